"""A torch text classifier for the tests, built from the rendered README's own code.

The export function and model.py come from the code blocks of
templates/libraries/torch/text-model.md (the torch README's "A text model"); this
file adds what a scientist's notebook would: generated support tickets, a vocabulary
and a few training steps of an nn.EmbeddingBag classifier.

python text.py train ARTIFACTS_DIR   trains, then saves model.pt2 and vocabulary.txt
"""

import random
import re
import sys
from pathlib import Path

README_PART = (
    Path(__file__).resolve().parents[2] / "templates/libraries/torch/text-model.md"
)
WORDS = {  # a few words typical of each class, in the order of model.py's LABELS
    "billing": "invoice charged refund payment card price bill twice paid",
    "technical": "error crash bug login fails app slow broken update",
    "account": "password email username profile delete settings locked name",
    "shipping": "delivery package parcel arrived tracking late address box",
}
COMMON = "hello please help my the i was a is not thanks urgent today order"
# Installed first and alone in the test environment: the CPU build, pinned.
PREINSTALL = ["torch==2.13.0"]


def code_blocks() -> tuple[str, str]:
    """The README part's two Python blocks: export() for training, and model.py."""
    export, model = re.findall(
        r"```python\n(.*?)```", README_PART.read_text(encoding="utf-8"), re.S
    )
    return export, model


def texts(count: int, seed: int) -> tuple[list[str], list[int]]:
    """Generated tickets of 1 to 20 words, and the index of each one's class."""
    rng = random.Random(seed)
    classes = [words.split() for words in WORDS.values()]
    common = COMMON.split()
    tickets, labels = [], []
    for _ in range(count):
        label = rng.randrange(len(classes))
        length = rng.randint(1, 20)
        pick = [classes[label] if rng.random() < 0.5 else common for _ in range(length)]
        words = [rng.choice(choices) for choices in pick]
        tickets.append(" ".join(words).capitalize() + rng.choice([".", "!", "?", ""]))
        labels.append(label)
    return tickets, labels


def inputs(count: int, seed: int = 1) -> list[dict]:
    """Requests, some with words the vocabulary lacks."""
    rng = random.Random(seed)
    tickets, _ = texts(count, seed)
    return [{"text": t + rng.choice(["", " Zanzibar", " ???"])} for t in tickets]


def train(artifacts: Path) -> None:
    import torch
    from torch import nn

    class TextClassifier(nn.Module):
        def __init__(self, words: int, classes: int) -> None:
            super().__init__()
            self.bag = nn.EmbeddingBag(words, 16, mode="mean")
            self.out = nn.Linear(16, classes)

        def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
            return self.out(self.bag(ids, offsets))

    torch.manual_seed(0)
    tickets, labels = texts(600, seed=0)
    tokenized = [re.findall(r"\w+", ticket.lower()) for ticket in tickets]
    vocabulary = ["<unknown>", *sorted({w for words in tokenized for w in words})]
    index = {word: i for i, word in enumerate(vocabulary)}
    ids = torch.tensor([index[w] for words in tokenized for w in words])
    lengths = torch.tensor([len(words) for words in tokenized])
    offsets = torch.cumsum(lengths, dim=0) - lengths
    y = torch.tensor(labels)

    net = TextClassifier(len(vocabulary), len(WORDS))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(60):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(ids, offsets), y).backward()
        optimizer.step()

    namespace: dict = {}
    exec(code_blocks()[0], namespace)  # the README's export()
    namespace["export"](net, vocabulary, artifacts)


if __name__ == "__main__":
    train(Path(sys.argv[2]))
