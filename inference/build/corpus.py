"""A varied sentence corpus for the embeddings quality gate, generated offline and deterministically.

Why generated: the gate must run in CI without a dataset download, and the same corpus must come out on
every machine (random.Random with a fixed seed, no hash-order dependence). Why varied: int8 quantization
errors show up unevenly -- on very short inputs, on inputs cut at max_seq_length, on numbers, code, emoji and
scripts the English-centric vocabulary splits into many pieces -- so every kind is represented:
short phrases, sentences, long paragraphs past the truncation limit, lists, numbers/dates/prices,
non-English (8 languages, 6 scripts), code, emoji, URLs/identifiers, and questions.

Search queries are mostly one or two words (web-search logs: 2.4 terms on average, lengths peaking at 2;
Excite 2001, Arampatzis & Kamps, SIGIR 2008), and a text of one to three word pieces is where int8 errors are
largest (docs/int8-recipe.md). So one-word queries (words in 9 languages, acronyms, slang, numbers, a lone
emoji or punctuation mark) and two-word queries carry QUERY_WEIGHT each, and make up a third of the corpus
with the "short" kind; the gate reports its figures per token-count class (quality.TOKEN_CLASSES).
"""

from __future__ import annotations

import random

DEFAULT_SIZE = 1600
SEED = 20240611
QUERY_WEIGHT = 3  # each query kind comes up 3 times per cycle through the other kinds (weight 1 each)

_SUBJECTS = ["The engineer", "A small team", "Our customer", "The model", "My neighbour", "The committee",
             "A student", "The old library", "This startup", "The research group", "Every pilot", "The chef",
             "An endpoint", "The city council", "Her grandmother", "The support bot"]
_VERBS = ["deployed", "rejected", "reviewed", "painted", "measured", "explained", "ignored", "rebuilt",
          "celebrated", "translated", "optimised", "questioned", "sold", "cooked", "predicted", "archived"]
_OBJECTS = ["the new release", "a broken bicycle", "the quarterly budget", "an old map of Lisbon",
            "the embeddings service", "a recipe for bread", "the train timetable", "three failing tests",
            "the migration plan", "a jazz record", "the weather forecast", "an invoice from March",
            "the serverless endpoint", "a chess opening", "the hospital roster", "a poem about rain"]
_TAILS = ["before lunch", "without telling anyone", "in record time", "after a long debate", "on Tuesday",
          "for the third time", "with great care", "despite the storm", "under budget", "at midnight"]
_TOPICS = ["cloud cost", "sourdough", "football", "quantum computing", "gardening", "tax law", "jazz",
           "volcanoes", "machine translation", "marathon training", "medieval history", "electric cars"]
_NON_ENGLISH = [
    "Le chat dort sur le canapé depuis ce matin.", "Nous avons déployé le modèle hier soir.",
    "Der Zug nach Berlin hat zwanzig Minuten Verspätung.", "Ich habe die Rechnung noch nicht bezahlt.",
    "¿Dónde está la estación de tren más cercana?", "El equipo terminó el proyecto antes de tiempo.",
    "今日はとても良い天気ですね。", "このモデルは文章の意味をベクトルに変換します。",
    "我们明天早上九点开会。", "这家餐厅的面条非常好吃。",
    "Москва — столица России.", "Сегодня мы обсуждаем новый бюджет.",
    "مرحبا، كيف حالك اليوم؟", "الطقس جميل في المدينة.",
    "मुझे चाय बहुत पसंद है।", "O livro está em cima da mesa.", "A reunião foi adiada para sexta-feira.",
    "Il treno per Roma parte alle otto.", "Questa è una frase in italiano.",
]
_CODE = [
    "def add(a, b):\n    return a + b", "for (let i = 0; i < n; i++) { sum += arr[i]; }",
    "SELECT name, count(*) FROM users GROUP BY name HAVING count(*) > 1;",
    "import numpy as np\nx = np.linspace(0, 1, 100)", "kubectl get pods -n production --watch",
    "git rebase -i HEAD~3", "if err != nil { return fmt.Errorf(\"load: %w\", err) }",
    "<div class=\"card\"><h1>Title</h1></div>", "curl -s https://example.com/api/v1/items?limit=10",
    "fn main() { println!(\"hello\"); }", "{\"inputs\": [\"a\", \"b\"], \"parameters\": {}}",
    "SELECT * FROM orders WHERE total > 100 ORDER BY created_at DESC LIMIT 5;",
]
_EMOJI = ["🎉", "🚀", "😀", "🔥", "🙏", "❤️", "🤖", "🌧️", "☕", "📈", "👍🏽", "🇵🇹"]
# One-word queries: words in several languages, acronyms, slang, numbers, lone emoji and punctuation.
_QUERY_WORDS = {
    "en": ["weather", "pizza", "flights", "python", "football", "recipes", "jobs", "translate", "maps", "news",
           "calculator", "hotels", "bitcoin", "netflix", "amazon", "youtube", "lyrics", "horoscope", "gmail",
           "cats", "insurance", "mortgage", "covid", "tickets", "restaurants", "dictionary", "wallpaper",
           "hello", "thanks", "goodbye", "help", "login", "password", "refund", "pricing", "docs", "invoice"],
    "fr": ["météo", "bonjour", "voiture", "boulangerie", "fromage", "emploi", "vacances", "pharmacie", "merci"],
    "de": ["Wetter", "Bahnhof", "Rechnung", "Kündigung", "Urlaub", "Apotheke", "danke", "Steuer", "Wohnung"],
    "es": ["clima", "hola", "trabajo", "recetas", "fútbol", "farmacia", "gracias", "vuelos", "noticias"],
    "pt": ["tempo", "obrigado", "receitas", "futebol", "emprego", "notícias", "praia"],
    "it": ["meteo", "ciao", "ricette", "lavoro", "calcio", "grazie", "treni"],
    "ru": ["погода", "привет", "новости", "работа", "спасибо", "рецепты"],
    "ja": ["天気", "こんにちは", "ニュース", "ラーメン", "東京", "ありがとう"],
    "zh": ["天气", "你好", "新闻", "北京", "谢谢", "翻译"],
    "ar": ["الطقس", "مرحبا", "أخبار", "شكرا"],
    "hi": ["मौसम", "नमस्ते", "समाचार"],
}
_ACRONYMS = ["API", "NASA", "GDPR", "SQL", "k8s", "AWS", "CPU", "FAQ", "PDF", "USB", "HTTP", "ONNX", "S3", "VPN",
             "NATO", "UNESCO", "DNA", "GPU", "IBAN", "ETA", "ASAP", "CEO", "SEO", "URL", "iOS", "RSVP"]
_SLANG = ["lol", "ok", "omg", "brb", "idk", "tbh", "thx", "pls", "lmao", "smh", "btw", "imo", "gg", "yolo", "nvm",
          "ty", "np", "k", "ya", "yep", "nope", "meh", "wtf", "fyi", "irl", "afk", "rofl", "xoxo", "hmm", "ugh"]
_PUNCTUATION = ["?", "!", "...", "#", "@", "&", "*", "%", "$", "€", "?!", "-", "/", ":)", ";)", ":(", "<3", "+1"]
_SECOND_WORDS = ["near me", "today", "tomorrow", "price", "tutorial", "login", "meaning", "reviews", "download",
                 "online", "free", "2024", "recipe", "hours", "app", "jobs", "map", "translation", "vs java",
                 "cheap", "best", "how", "error", "refund", "open", "morgen", "prix", "barato", "oggi", "сегодня"]
_ITEMS = ["apples", "bread", "milk", "batteries", "a lamp", "rice", "coffee", "soap", "tomatoes", "stamps"]


def _sentence(r: random.Random) -> str:
    return f"{r.choice(_SUBJECTS)} {r.choice(_VERBS)} {r.choice(_OBJECTS)} {r.choice(_TAILS)}."


def _one_word(r: random.Random) -> str:
    pick = r.random()
    if pick < 0.55:
        word = r.choice(r.choice(list(_QUERY_WORDS.values())))
    elif pick < 0.65:
        word = r.choice(_ACRONYMS)
    elif pick < 0.8:
        word = r.choice(_SLANG)
    elif pick < 0.88:
        word = r.choice([str(r.randint(0, 99)), str(r.randint(100, 99999)), f"{r.uniform(0, 100):.{r.randint(1, 2)}f}",
                         str(r.randint(1950, 2030))])
    elif pick < 0.95:
        word = r.choice(_EMOJI)
    else:
        word = r.choice(_PUNCTUATION)
    return r.choice([word, word, word.lower(), word.title(), word.upper()])


def _two_words(r: random.Random) -> str:
    first = _one_word(r) if r.random() < 0.8 else r.choice(_TOPICS)
    second = r.choice(_SECOND_WORDS) if r.random() < 0.6 else _one_word(r)
    return f"{first} {second}"


def _generators(r: random.Random):
    for _ in range(QUERY_WEIGHT):
        yield "one_word", lambda: _one_word(r)
        yield "two_words", lambda: _two_words(r)
    yield "short", lambda: r.choice([r.choice(_TOPICS), r.choice(_ITEMS), r.choice(_TOPICS).title(),
                                     f"{r.choice(_ITEMS)} and {r.choice(_ITEMS)}", r.choice(_EMOJI)])
    yield "sentence", lambda: _sentence(r)
    yield "question", lambda: f"How does {r.choice(_TOPICS)} affect {r.choice(_OBJECTS)}?"
    yield "paragraph", lambda: " ".join(_sentence(r) for _ in range(r.randint(3, 8)))
    # 40-90 sentences is ~400-900 word pieces: well past a 256-token max_seq_length, so truncation is exercised
    yield "long", lambda: " ".join(_sentence(r) for _ in range(r.randint(40, 90)))
    yield "list", lambda: "Shopping list: " + ", ".join(
        f"{i + 1}. {x}" for i, x in enumerate(r.sample(_ITEMS, r.randint(2, 6))))
    yield "numbers", lambda: r.choice([
        f"Invoice {r.randint(1000, 99999)} totals ${r.randint(1, 9999)}.{r.randint(0, 99):02d}",
        f"The meeting is on {r.randint(2000, 2030)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} at "
        f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
        f"Call +1-{r.randint(200, 999)}-{r.randint(200, 999)}-{r.randint(1000, 9999)} before 5pm",
        f"{r.randint(1, 100)}% of {r.randint(100, 100000)} requests took {r.uniform(0.1, 99):.2f} ms",
        " ".join(str(r.randint(0, 10 ** r.randint(1, 9))) for _ in range(r.randint(3, 12))),
    ])
    yield "non_english", lambda: r.choice(_NON_ENGLISH) + ("" if r.random() < 0.5 else " " + r.choice(_NON_ENGLISH))
    yield "code", lambda: r.choice(_CODE) + ("" if r.random() < 0.6 else "  # " + _sentence(r))
    yield "emoji", lambda: f"{_sentence(r)} {''.join(r.choices(_EMOJI, k=r.randint(1, 4)))}"
    yield "identifiers", lambda: r.choice([
        f"user_{r.randint(1, 9999)}@example.{r.choice(['com', 'org', 'io'])}",
        f"https://docs.example.com/{r.choice(_TOPICS).replace(' ', '-')}/page-{r.randint(1, 50)}",
        f"ERROR 0x{r.randint(0, 2**32):08X} in module {r.choice(['auth', 'billing', 'search'])}",
        f"SKU-{r.randint(100000, 999999)}-{r.choice('ABCDEFG')}",
    ])
    yield "mixed", lambda: f"{r.choice(_NON_ENGLISH)} {_sentence(r)} {r.choice(_EMOJI)} {r.randint(0, 10**6)}"


def generate_corpus(size: int = DEFAULT_SIZE, seed: int = SEED) -> list[str]:
    """`size` distinct, non-empty texts cycling through every kind above; same (size, seed) -> same list."""
    if size < 1:
        raise ValueError(f"corpus size must be >= 1, got {size}")
    r = random.Random(seed)
    kinds = list(_generators(r))
    seen: set[str] = set()
    out: list[str] = []
    attempts = 0
    while len(out) < size:
        _, make = kinds[attempts % len(kinds)]
        attempts += 1
        text = make()
        if text not in seen:
            seen.add(text)
            out.append(text)
        if attempts > size * 50:
            raise RuntimeError(f"could not generate {size} distinct texts")
    return out


def corpus_kinds() -> list[str]:
    return list(dict.fromkeys(k for k, _ in _generators(random.Random(0))))
