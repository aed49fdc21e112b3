#!/usr/bin/env python3
"""Reference vectors for the real-weight encoder test (tests/embed/minilm_real_test.cpp).

Runs the real all-MiniLM-L6-v2 through sentence-transformers (PyTorch), an
implementation independent of Kioku's, on a few hundred sentences: short ones,
ones far past the 256-token limit, accents, CJK, emoji, code. Also ranks a small
corpus for a set of queries (top-10 by cosine).

Writes <cache>/minilm-<key>.json, where key is the SHA-256 of this file (so any
change to the sentences or the oracle recomputes it), and prints its path.

Usage: minilm_reference.py --model DIR --cache DIR
"""

import argparse
import hashlib
import json
import os
import pathlib
import sys


def short_sentences():
    subjects = ["My sister Hana", "The old fisherman", "Our new neighbour", "A quiet student", "Grandpa Kenji",
                "The team lead", "My best friend Priya", "The baker on Elm Street", "A tired nurse", "Uncle Tomás",
                "Coach Rivera", "The night-shift pilot", "Little Mei"]
    actions = ["adopted a rescue dog", "started learning the violin", "moved to Osaka last spring",
               "ran her first marathon", "planted tomatoes in the garden", "lost his wallet on the train",
               "painted the kitchen yellow", "quit coffee for green tea", "booked a trip to Iceland",
               "wrote a letter to the mayor"]
    out = []
    for i, s in enumerate(subjects):
        for j in range(10):
            a = actions[(i * 3 + j) % len(actions)]
            tail = ["", " yesterday", " after work", " with friends", " for the first time"][(i + j) % 5]
            out.append(f"{s} {a}{tail}.")
    return out


CORPUS = [
    "I adopted a puppy named Pixel from the shelter last week.",
    "My guitar lessons start on Monday evening.",
    "We went hiking in the Alps and the view from the summit was stunning.",
    "The dentist said I need a filling in my back tooth.",
    "I'm training for a half marathon in October.",
    "Our flight to Tokyo was delayed by three hours.",
    "She baked sourdough bread every Sunday morning.",
    "The quarterly report is due to the finance team on Friday.",
    "My grandmother taught me how to knit scarves.",
    "I finally fixed the leaking kitchen faucet.",
    "The concert was cancelled because of the storm.",
    "He is allergic to peanuts and shellfish.",
    "We painted the nursery a soft shade of green.",
    "I started a new job as a data engineer at a startup.",
    "The cat keeps knocking my plants off the windowsill.",
    "Our book club is reading a novel about time travel.",
    "I twisted my ankle playing basketball.",
    "The wedding will be held at a vineyard in Napa.",
    "My laptop battery barely lasts two hours now.",
    "We adopted a strict budget to save for a house.",
    "She volunteers at the animal shelter on weekends.",
    "I learned to make ramen broth from scratch.",
    "The kids built a snowman in the backyard.",
    "He proposed to her on the beach at sunset.",
    "My therapist suggested journaling every night.",
    "The museum has a new exhibit on ancient Egypt.",
    "I switched my phone plan to save money.",
    "The garden tomatoes finally turned red.",
    "We watched the meteor shower from the rooftop.",
    "My brother is moving to Berlin for his studies.",
    "I keep forgetting to water the basil.",
    "The landlord raised the rent by ten percent.",
    "She won first prize in the photography contest.",
    "I'm learning Japanese with flashcards every morning.",
    "Our car broke down on the highway near Denver.",
    "The doctor recommended more sleep and less caffeine.",
    "We celebrated our anniversary at an Italian restaurant.",
    "He restores vintage motorcycles in his garage.",
    "The power went out during the thunderstorm.",
    "I signed up for a pottery class on Thursdays.",
    "My daughter lost her first tooth today.",
    "The team shipped the new release after midnight.",
    "We found a great taco place downtown.",
    "I read that octopuses have three hearts.",
    "Our neighbour's dog barks all night.",
    "She is writing a thesis on coral reef ecology.",
    "I ran out of printer ink again.",
    "The hotel upgraded us to a room with an ocean view.",
    "My grandfather served in the navy for twenty years.",
    "We are planning a road trip along the coast in July.",
    "Le café était fermé, alors nous sommes allés à la boulangerie.",
    "Mi abuela prepara la mejor paella de Valencia.",
    "Der Zug nach München hatte zwanzig Minuten Verspätung.",
    "東京の桜は四月の初めに満開になります。",
    "我昨天在公园里看到了一只很大的狗。",
    "주말에 친구들과 등산을 갔어요.",
    "Just got my vaccine 💉 feeling a bit tired 😴",
    "Pizza night with the family 🍕🍕 best Friday ever!",
    "def add(a, b):\n    return a + b",
    "SELECT name FROM users WHERE age > 30 ORDER BY name;",
]

QUERIES = [
    "pet dog adoption",
    "music lessons",
    "mountain hike",
    "tooth problems",
    "running race training",
    "delayed travel to Japan",
    "baking bread",
    "work deadline",
    "home repairs and plumbing",
    "weather ruined the event",
    "food allergies",
    "new job in tech",
    "cat misbehaving",
    "sports injury",
    "wedding plans",
    "saving money",
    "cooking noodles",
    "family moving abroad",
    "learning a language",
    "car trouble",
    "health advice about sleep",
    "romantic dinner",
    "art classes",
    "child milestone",
    "software release",
    "restaurant recommendation",
    "ocean vacation",
    "military history in the family",
    "summer road trip",
    "bakery in France",
    "Spanish food",
    "train delay in Germany",
    "cherry blossoms in Japan",
    "a big dog in the park",
    "going to the mountains with friends",
    "feeling tired after a shot",
    "pizza with family",
    "python function",
    "database query",
    "astronomy at night",
]


def accented():
    return [
        "Crème brûlée, façade, naïve, coöperate, résumé",
        "São Paulo é a maior cidade do Brasil.",
        "Nguyễn Văn An sống ở Hà Nội.",
        "Ærøskøbing ligger på Ærø i Danmark.",
        "Dvořák composed the New World Symphony.",
        "Zürich, Köln und Düsseldorf sind schön.",
        "¿Dónde está la estación de tren?",
        "Ça va? Très bien, merci!",
        "Łódź is a city in Poland; Gdańsk too.",
        "İstanbul'da güzel bir gün geçirdik.",
        "Ελληνικά: καλημέρα κόσμε",
        "Русский текст: привет, как дела?",
        "עברית: שלום עולם",
        "العربية: مرحبا بالعالم",
        "हिन्दी: नमस्ते दुनिया",
        "ÀÉÎÕÜ àéîõü ÇÑ çñ",
        "Smörgåsbord och kåldolmar till middag.",
        "Perú, Panamá y México",
        "Fiancée's café in Montréal",
        "ﬁne ﬂour (ligatures) and Ⅻ o'clock",
    ]


def cjk():
    return [
        "今日はとても暑いですね。",
        "私は毎朝コーヒーを飲みます。",
        "京都のお寺を訪れました。",
        "猫がソファで寝ています。",
        "新しいスマートフォンを買いました。",
        "我喜欢吃北京烤鸭。",
        "明天我们去上海出差。",
        "这本书非常有意思。",
        "今天天气很好，我们去散步吧。",
        "他在大学学习计算机科学。",
        "한국어를 공부하고 있어요.",
        "서울은 아주 큰 도시입니다.",
        "김치찌개가 정말 맛있어요.",
        "東京タワーとスカイツリー",
        "漢字かな交じり文の例です。ＡＢＣ１２３",
        "「こんにちは」と彼は言った。",
        "中文，日本語，한국어 mixed with English words",
        "全角スペース　を含む文",
        "𠮷野家で牛丼を食べた",
        "雨ニモマケズ風ニモマケズ",
    ]


def emoji():
    return [
        "😀", "I love you ❤️", "Party time 🎉🎊🥳", "Flags: 🇯🇵 🇫🇷 🇺🇸",
        "Family: 👨‍👩‍👧‍👦", "Thumbs up 👍🏽 skin tone", "Weather ☀️🌧️⛈️❄️",
        "Food 🍣🍜🍱 in Tokyo", "Coding 💻 all night ☕", "Cat 🐱 and dog 🐶 friends",
        "Keycap 1️⃣ 2️⃣ 3️⃣", "Math ∑ ∫ √ ∞ ≠ ≤", "Arrows → ← ↑ ↓ ⇒",
        "Music 🎵🎶 festival", "Birthday 🎂 for grandma 👵", "Running 🏃‍♀️ 10k done ✅",
        "Heart eyes 😍 at the beach 🏖️", "Rocket 🚀 launch at dawn", "Sad 😢 the game was lost",
        "Money 💰💸 spent on shoes 👟",
    ]


def code():
    return [
        "int main() { printf(\"hello\\n\"); return 0; }",
        "for (auto& x : items) total += x.price * x.qty;",
        "const add = (a, b) => a + b;",
        "import numpy as np\nx = np.zeros((3, 4))",
        "git commit -m 'fix: off-by-one in pagination'",
        "SELECT COUNT(*) FROM orders WHERE status = 'shipped';",
        "<div class=\"card\"><span>Hi</span></div>",
        "{\"name\": \"kioku\", \"version\": \"0.1.0\", \"tags\": [\"memory\"]}",
        "fn main() { let v: Vec<u32> = (0..10).collect(); }",
        "sudo apt-get install -y libsqlite3-dev",
        "https://example.com/path?query=1&lang=en#section",
        "user@example.org wrote: see RFC 2119",
        "x = [i**2 for i in range(10) if i % 2 == 0]",
        "template <typename T> T max(T a, T b) { return a > b ? a : b; }",
        "std::unique_ptr<Foo> p = std::make_unique<Foo>(42);",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        "echo $PATH | tr ':' '\\n' | sort -u",
        "regex: ^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$",
        "0x7fffffff 3.14159e-10 1,234,567.89",
        "if err != nil { return fmt.Errorf(\"open: %w\", err) }",
    ]


def long_texts():
    base = [
        "We spent the whole summer travelling along the coast, stopping in small fishing villages where the "
        "locals sold grilled sardines and told stories about storms that had sunk boats decades ago.",
        "The project started as a weekend experiment but grew into a product with thousands of users, "
        "which meant rewriting the storage layer, adding backups, and answering support mail every night.",
        "Grandmother's recipe book is full of notes in the margins: less sugar, more lemon, bake until the "
        "edges are golden, never open the oven door during the first twenty minutes.",
        "東京での生活は忙しいけれど、週末には公園を散歩したり、友達とカフェで話したりして楽しんでいます。",
        "Le matin, je prends le train pour Lyon ; l'après-midi, je travaille à la bibliothèque près de la gare.",
    ]
    out = []
    for i in range(20):
        parts = [base[(i + j) % len(base)] for j in range(4 + i % 6)]
        text = " ".join(parts) * (2 + i % 3)
        if i % 4 == 0:
            text += " 🎉 def f(x): return x * 2 🎉"
        out.append(text)
    return out


def edge_cases():
    return ["a", "Hello world", "!!!", "   leading and trailing spaces   ", "UPPER CASE SHOUTING",
            "numbers 1 22 333 4444 55555", "tab\tseparated\tvalues", "line one\nline two\n\nline four",
            "don't won't can't it's", "e.g. i.e. etc. vs. Dr. Smith", "[CLS] [SEP] [UNK] literal tokens",
            "unbelievably antidisestablishmentarianism supercalifragilistic"]


def all_sentences():
    return short_sentences() + CORPUS + accented() + cjk() + emoji() + code() + long_texts() + edge_cases()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--cache", required=True)
    args = ap.parse_args()
    key = hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()[:16]
    out_path = pathlib.Path(args.cache) / f"minilm-{key}.json"
    if out_path.exists():
        print(out_path)
        return 0

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    model = SentenceTransformer(args.model, device="cpu")
    sentences = all_sentences()
    vectors = model.encode(sentences, batch_size=32, convert_to_numpy=True).astype(np.float64)
    corpus_vectors = model.encode(CORPUS, batch_size=32, convert_to_numpy=True).astype(np.float64)
    query_vectors = model.encode(QUERIES, batch_size=32, convert_to_numpy=True).astype(np.float64)
    scores = query_vectors @ corpus_vectors.T
    top10 = [list(map(int, np.argsort(-row, kind="stable")[:10])) for row in scores]
    # The smallest gap between 10th and 11th: a test of top-10 identity is only
    # meaningful when this is well above the encoder's float error.
    margins = [float(np.sort(row)[::-1][9] - np.sort(row)[::-1][10]) for row in scores]
    tokens = [len(model.tokenizer(s)["input_ids"]) for s in sentences]
    token_ids = [model.tokenizer(s, truncation=True, max_length=model.max_seq_length)["input_ids"] for s in sentences]
    result = {
        "oracle": f"sentence-transformers {__import__('sentence_transformers').__version__}, torch {torch.__version__}",
        "max_seq_length": model.max_seq_length,
        "sentences": sentences,
        "untruncated_tokens": tokens,
        "token_ids": token_ids,
        "vectors": vectors.tolist(),
        "corpus": CORPUS,
        "queries": QUERIES,
        "top10": top10,
        "top10_margins": margins,
    }
    tmp = out_path.with_suffix(".part")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(result, ensure_ascii=False))
    os.replace(tmp, out_path)
    print(out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
