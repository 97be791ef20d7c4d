"""A plain-Python model for the tests: sentiment from a word list kept in artifacts/.

python example.py train ARTIFACTS_DIR   writes the word list
"""

import random
import sys
from pathlib import Path

LOAD = """
self.positive = set((artifacts_dir / "positive_words.txt").read_text().split())
"""
PREDICT = """
outputs = []
for item in inputs:
    words = item.text.lower().split()
    share = sum(word in self.positive for word in words) / max(len(words), 1)
    label = "positive" if share > 0 else "negative"
    outputs.append(Output(label=label, score=round(max(share, 1 - share), 6)))
return outputs
"""
WORDS = ["love", "great", "good", "excellent", "happy", "nice"]


def inputs(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    vocabulary = [*WORDS, "the", "product", "is", "bad", "slow", "box", "arrived"]
    return [
        {"text": " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 8)))}
        for _ in range(count)
    ]


def train(artifacts: Path) -> None:
    (artifacts / "positive_words.txt").write_text("\n".join(WORDS) + "\n")


if __name__ == "__main__":
    train(Path(sys.argv[2]))
