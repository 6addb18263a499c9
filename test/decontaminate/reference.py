"""Cosmopedia's decontamination decision, written from its published description, as an oracle for
cosmo's `cosmopedia` mode. Reads {"items": [{"text", "task_name"}], "samples": [str], "ngram", "threshold"}
as JSON on stdin; writes one {"item": index or null, "ratio": float} per sample as JSON on stdout.

- Text -> tokens: NFD, combining marks dropped, lowercased, `\\w+`.
- Index: every n-gram of every item with at least one n-gram; a later item overwrites an earlier one.
- A sample is compared with the item of its first n-gram found in the index. Cosmopedia iterated a
  Python set (an order that changes per process); text order is the deterministic equivalent.
- Score: difflib.SequenceMatcher(None, sample, item, autojunk=False) blocks longer than 5 characters
  of the space-joined tokens, concatenated and whitespace-collapsed, over the item's joined length.
"""
import difflib
import json
import re
import sys
import unicodedata


def words(text):
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return re.findall(r"\w+", text.lower())


def grams(tokens, n):
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def main():
    job = json.load(sys.stdin)
    n = job["ngram"]
    index, texts = {}, []
    for item in job["items"]:
        g = grams(words(item["text"]), n)
        if not g:
            texts.append(None)
            continue
        for key in g:
            index[key] = len(texts)
        texts.append(item["text"])
    out = []
    for sample in job["samples"]:
        hit = next((index[k] for k in grams(words(sample), n) if k in index), None)
        if hit is None:
            out.append({"item": None, "ratio": 0.0})
            continue
        a = " ".join(words(sample))
        b = " ".join(words(texts[hit]))
        blocks = difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
        parts = [a[i:i + size] for i, _, size in blocks if size > 5]
        matched = " ".join("".join(parts).split())
        out.append({"item": hit, "ratio": len(matched) / len(b) if b else 0.0})
    json.dump(out, sys.stdout)


main()
