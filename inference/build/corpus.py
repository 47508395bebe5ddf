"""A varied sentence corpus for the embeddings quality gate, generated offline and deterministically.

Why generated: the gate must run in CI without a dataset download, and the same corpus must come out on
every machine (random.Random with a fixed seed, no hash-order dependence). Why varied: int8 quantization
errors show up unevenly -- on very short inputs, on inputs cut at max_seq_length, on numbers, code, emoji and
scripts the English-centric vocabulary splits into many pieces -- so every kind is represented:
short phrases, sentences, long paragraphs past the truncation limit, lists, numbers/dates/prices,
non-English (8 languages, 6 scripts), code, emoji, URLs/identifiers, and questions.
"""

from __future__ import annotations

import random

DEFAULT_SIZE = 1200
SEED = 20240611

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
_ITEMS = ["apples", "bread", "milk", "batteries", "a lamp", "rice", "coffee", "soap", "tomatoes", "stamps"]


def _sentence(r: random.Random) -> str:
    return f"{r.choice(_SUBJECTS)} {r.choice(_VERBS)} {r.choice(_OBJECTS)} {r.choice(_TAILS)}."


def _generators(r: random.Random):
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
    return [k for k, _ in _generators(random.Random(0))]
