#!/usr/bin/env python3
"""Generate the reference fixtures for the RZRewards tests (run by hand, not in CI).

Writes into Tests/Fixtures/rewards/:
  bleu_pairs.json          sentence pairs with NLTK sentence_bleu (SmoothingFunction().method1)
  clustering_batches.json  batches with scikit-learn AgglomerativeClustering labels (average
                           linkage, precomputed distances, distance_threshold), both from BLEU
                           distances built as R-Zero's _bleu_distance_matrix does and from random
                           distance matrices
  grader_pairs.json        (reference, prediction) answer pairs with math-verify's verdict,
                           verify(parse(gold), parse(prediction)) with gold first

Every file carries {"magic": "rzero-reward-fixtures", "version": N, ...}; the Swift tests refuse
a mismatch and say to re-run this script. grader_disagreements.json is NOT written here: it is
maintained by hand (each entry explains why math-verify is wrong on that pair).

Usage: /work/venv/bin/python scripts/make_reward_fixtures.py
Needs: nltk, scikit-learn, math-verify (and numpy).
"""

import json
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import nltk
import sklearn
import math_verify
from math_verify import parse, verify
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from sklearn.cluster import AgglomerativeClustering

MAGIC = "rzero-reward-fixtures"
VERSION = 1
OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "rewards"

WORDS = (
    "let find the number of positive integers n such that x y is a triangle with sides "
    "and area circle radius sum of all real solutions compute value modulo 1000 prime "
    "polynomial roots probability that two dice show distinct faces sequence defined by "
    "for every integer greater than equal to minimum maximum possible"
).split()
MATH_TOKENS = ["$x^2$", "$n$", "2", "3", "5", "7", "10", "100", "2024", "\\frac{1}{2}", "=", "+", "(a,", "b)", "f(x)"]


def header(kind):
    return {
        "magic": MAGIC,
        "version": VERSION,
        "kind": kind,
        "generator": "scripts/make_reward_fixtures.py",
        "libraries": {
            "nltk": nltk.__version__,
            "scikit-learn": sklearn.__version__,
            "math-verify": getattr(math_verify, "__version__", "0.9.0"),
        },
    }


def random_sentence(rng, low, high):
    vocabulary = WORDS + MATH_TOKENS
    return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(low, high)))


def mutate(rng, sentence, edits):
    tokens = sentence.split()
    for _ in range(edits):
        action = rng.random()
        if action < 0.4 and tokens:
            tokens[rng.randrange(len(tokens))] = rng.choice(WORDS)
        elif action < 0.7:
            tokens.insert(rng.randint(0, len(tokens)), rng.choice(WORDS))
        elif tokens:
            del tokens[rng.randrange(len(tokens))]
    return " ".join(tokens)


def bleu(hypothesis, reference):
    return sentence_bleu([reference.split()], hypothesis.split(), smoothing_function=SmoothingFunction().method1)


def make_bleu_pairs(rng):
    pairs = []
    fixed = [
        ("the cat sat on the mat", "the cat sat on the mat"),
        ("x = 5", "x = 5"),
        ("one", "one"),
        ("one", "two"),
        ("one two", "one two"),
        ("a a a a", "a a"),
        ("a a", "a a a a"),
        ("the the the the the the the", "the cat is on the mat"),
        ("", "anything at all"),
        ("anything at all", ""),
        ("", ""),
        ("alpha beta gamma", "delta epsilon zeta"),
        ("Find  the\tvalue\nof x", "Find the value of x"),
        ("naïve café", "naïve café au lait"),
        ("1 2 3 4 5 6 7 8", "8 7 6 5 4 3 2 1"),
        ("a b a b a b a b", "a b a b"),
        ("Let $x$ be real.", "Let $x$ be real ."),
    ]
    pairs.extend(fixed)
    for _ in range(40):  # identical pairs of various lengths
        sentence = random_sentence(rng, 1, 30)
        pairs.append((sentence, sentence))
    for _ in range(40):  # short sentences, 1-3 tokens
        pairs.append((random_sentence(rng, 1, 3), random_sentence(rng, 1, 3)))
    for _ in range(40):  # near duplicates
        sentence = random_sentence(rng, 5, 40)
        pairs.append((mutate(rng, sentence, rng.randint(1, 6)), sentence))
    for _ in range(30):  # repeated tokens
        token = rng.choice(WORDS)
        pairs.append((" ".join([token] * rng.randint(1, 9)), " ".join([token] * rng.randint(1, 9) + [rng.choice(WORDS)])))
    for _ in range(20):  # empty overlap
        left = " ".join(rng.choice(WORDS[:20]) for _ in range(rng.randint(1, 12)))
        right = " ".join(rng.choice(["zz", "yy", "qq", "ww"]) for _ in range(rng.randint(1, 12)))
        pairs.append((left, right))
    for _ in range(40):  # unrelated random sentences
        pairs.append((random_sentence(rng, 1, 40), random_sentence(rng, 1, 40)))
    return [{"hypothesis": h, "reference": r, "bleu": bleu(h, r)} for h, r in pairs]


def reference_distance_matrix(sentences):
    """R-Zero's _bleu_distance_matrix: d[i][j] = d[j][i] = 1 - BLEU(hyp=s_i, ref=[s_j]) for i < j."""
    n = len(sentences)
    dist = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            score = 1.0 if i == j else bleu(sentences[i], sentences[j])
            dist[i, j] = dist[j, i] = 1 - score
    return dist


def sklearn_labels(dist, threshold):
    clustering = AgglomerativeClustering(
        n_clusters=None, distance_threshold=threshold, metric="precomputed", linkage="average")
    return [int(label) for label in clustering.fit_predict(dist)]


def make_clustering_batches(rng):
    batches = []
    for index in range(24):
        size = rng.choice([2, 3, 5, 8, 16, 24, 40, 64])
        seeds = [random_sentence(rng, 6, 30) for _ in range(max(1, size // rng.choice([2, 3, 4])))]
        questions = []
        for _ in range(size):
            roll = rng.random()
            if roll < 0.6:
                questions.append(mutate(rng, rng.choice(seeds), rng.randint(0, 4)))
            elif roll < 0.7:
                questions.append(rng.choice(seeds))
            elif roll < 0.8:
                questions.append("")  # a malformed output enters clustering as an empty question
            else:
                questions.append(random_sentence(rng, 1, 25))
        threshold = [0.5, 0.5, 0.5, 0.3, 0.7][index % 5]
        batches.append({"questions": questions, "threshold": threshold,
                        "labels": sklearn_labels(reference_distance_matrix(questions), threshold)})
    for index in range(10):
        size = rng.choice([2, 4, 7, 12, 30, 50])
        points = np.array([[rng.random() for _ in range(3)] for _ in range(size)])
        dist = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
        dist = dist / max(1e-9, dist.max())
        threshold = [0.2, 0.35, 0.5][index % 3]
        condensed = [float(dist[i, j]) for i in range(size) for j in range(i + 1, size)]
        batches.append({"condensed": condensed, "count": size, "threshold": threshold,
                        "labels": sklearn_labels(dist, threshold)})
    return batches


# ---------------------------------------------------------------- grader pairs

def render_rational(rng, value, style):
    """Render a Fraction in one of several spellings."""
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    p, q = magnitude.numerator, magnitude.denominator
    if style == "int" and q == 1:
        return f"{sign}{p}"
    if style == "float_int" and q == 1:
        return f"{sign}{p}.0"
    if style == "decimal":
        decimal = str(float(magnitude))
        if Fraction(decimal) == magnitude and "e" not in decimal:
            return sign + decimal
    if style == "frac":
        return f"{sign}\\frac{{{p}}}{{{q}}}"
    if style == "dfrac":
        return f"{sign}\\dfrac{{{p}}}{{{q}}}"
    if style == "slash":
        return f"{sign}{p}/{q}"
    if style == "unreduced":
        k = rng.randint(2, 5)
        return f"{sign}\\frac{{{p * k}}}{{{q * k}}}"
    if style == "frac_in_numerator_sign" and sign:
        return f"\\frac{{-{p}}}{{{q}}}"
    if style == "mixed" and p > q and q > 1:
        return f"{sign}{p // q}\\frac{{{p % q}}}{{{q}}}"
    return f"{sign}\\frac{{{p}}}{{{q}}}" if q != 1 else f"{sign}{p}"


RATIONAL_STYLES = ["int", "float_int", "decimal", "frac", "dfrac", "slash", "unreduced", "frac_in_numerator_sign", "mixed"]


def random_rational(rng):
    q = rng.choice([1, 1, 2, 3, 4, 5, 8, 10, 16, 25])
    p = rng.randint(-60, 200)
    return Fraction(p, q)


def make_grader_pairs(rng):
    pairs = []

    def add(reference, prediction, shape):
        pairs.append((reference, prediction, shape))

    # Hand-picked shapes (reference first).
    handpicked = [
        ("integer", ["5|5", "5|5.0", "5|05", "5|+5", "5|6", "12|12.00", "-3|- 3", "-3|3", "−3|-3", "0|-0", "1000000|1000001",
                     "123456789|123456788", "7|7.0000001", "42|\\boxed{42}", "2024|2,024", "3| 3 "]),
        ("decimal", ["0.5|\\frac12", "0.25|1/4", "0.333|\\frac13", "0.3333333|\\frac{1}{3}", "1.5|\\frac{3}{2}", "1.50|1.5",
                     "0.1+0.2|0.3", "3.14|\\pi", "2.5|2\\frac12", ".5|0.5", "0.125|\\frac{1}{8}", "0.7|0.70", "0.07|0.7"]),
        ("fraction", ["\\frac{3}{4}|\\dfrac34", "\\frac{3}{4}|3/4", "\\frac{3}{4}|\\tfrac{6}{8}", "\\frac{3}{4}|0.75",
                      "\\frac{3}{4}|\\frac{4}{3}", "-\\frac{1}{2}|\\frac{-1}{2}", "\\frac{-1}{-2}|0.5", "\\frac12|\\frac{1}{2}",
                      "\\frac{10}{4}|\\frac{5}{2}", "\\frac{5}{2}|2\\frac{1}{2}", "\\frac{1}{0}|\\infty", "\\frac{2}{3}|0.67"]),
        ("root", ["\\sqrt{8}|2\\sqrt{2}", "\\sqrt{12}|2\\sqrt3", "\\frac{\\sqrt{2}}{2}|\\frac{1}{\\sqrt{2}}", "\\sqrt{2}|1.414",
                  "3\\sqrt{2}|\\sqrt{18}", "\\sqrt[3]{27}|3", "8^{1/3}|2", "\\sqrt{16}|4", "\\sqrt{2}+\\sqrt{3}|\\sqrt{5}",
                  "2\\sqrt{5}|\\sqrt{20}", "\\frac{\\sqrt{3}}{3}|\\frac{1}{\\sqrt3}", "\\sqrt{x^2}|x"]),
        ("pi", ["2\\pi|2 \\pi", "\\frac{\\pi}{2}|\\pi/2", "\\frac{\\pi}{2}|90^\\circ", "\\pi|3.14", "\\pi|3.14159265358979",
                "4\\pi|\\pi \\cdot 4", "\\frac{3\\pi}{4}|\\frac34\\pi", "\\pi^2|\\pi\\cdot\\pi", "2\\pi r|2r\\pi", "\\pi|\\pi+1"]),
        ("percent", ["50\\%|50", "50\\%|0.5", "5\\%|0.05", "5\\%|5", "12.5\\%|12.5", "25\\%|\\frac14", "5\\%|0.5\\%",
                     "100\\%|1", "40%|40", "0.4|40\\%"]),
        ("unit", ["5|5\\text{ cm}", "12|12 \\text{ square units}", "5|\\$5", "7|7\\mbox{ meters}", "3|3 \\text{cm}^2",
                  "15|15 \\text{ inches}", "9|9\\,\\text{m}", "20|20 dollars", "4|4 \\text{ ways}", "5|6\\text{ cm}"]),
        ("degree", ["30|30^\\circ", "45^{\\circ}|45", "60^\\circ|60^{\\circ}", "90|90°", "120^\\circ|100^\\circ"]),
        ("thousands", ["1000|1,000", "12345|12,345", "1000|1{,}000", "1000000|1,000,000", "1234|1, 234", "1000.5|1,000.50"]),
        ("tuple", ["(1, 2)|(1,2)", "(1,2)|(2,1)", "(1, 2, 3)|(1,2,3)", "(\\frac12, 3)|(0.5, 3)", "(1,2,3)|(3,2,1)",
                   "\\left(1, 2\\right)|(1,2)", "(1,2,3)|1,2,3", "(-1, 4)|(-1,4)", "(2, -3)|(2, 3)", "(0,0)|(0,0,0)"]),
        ("interval", ["[1, 2)|[1,2)", "[1,2)|[1,2]", "(-\\infty, 3]|(-\\infty,3]", "(0, \\infty)|(0,\\infty)",
                      "(-\\infty, 3]|x \\le 3", "x > 0|(0, \\infty)", "[1,2]\\cup[3,4]|[3,4]\\cup[1,2]", "(1,3)|1<x<3",
                      "[-2, 5]|[-2,5)", "(-\\infty, \\infty)|\\mathbb{R}", "[0,1]|[0, 1]"]),
        ("set", ["\\{1, 2\\}|\\{2, 1\\}", "1, 2|2, 1", "\\{1,2,3\\}|\\{1,2\\}", "1,2|\\{1,2\\}", "\\{5\\}|5",
                 "2\\pm\\sqrt{3}|2+\\sqrt3, 2-\\sqrt3", "\\emptyset|\\{\\}", "\\{-1, 1\\}|\\{1, -1\\}", "3, 5|5, 3, 3", "1,2,3|1,2,4"]),
        ("expression", ["2x+1|1+2x", "x^2-1|(x-1)(x+1)", "\\frac{x}{2}|0.5x", "2(x+1)|2x+2", "x^2+2x+1|(x+1)^2",
                        "a+b|b+a", "3x|3y", "x^2|x^{2}", "2x|x2", "\\frac12x|\\frac{x}{2}", "(x+1)^2|x^2+1",
                        "\\sin^2x+\\cos^2x|1", "e^{x}|\\exp(x)", "\\ln e|1", "\\log_2 8|3", "|x||\\sqrt{x^2}",
                        "\\frac{1}{x}|x^{-1}", "x^3-y^3|(x-y)(x^2+xy+y^2)", "\\alpha+\\beta|\\beta+\\alpha", "n(n+1)/2|\\frac{n^2+n}{2}"]),
        ("equation", ["x=5|5", "5|x = 5", "y=2x+1|y=1+2x", "x = \\frac{1}{2}|0.5", "2x+1|y=2x+1", "x=5|y=5",
                      "x=3|x=4", "a_1=2|2"]),
        ("text", ["\\text{yes}|yes", "\\text{Yes}|\\text{yes}", "\\text{yes}|\\text{no}", "\\text{odd}|odd", "Monday|\\text{Monday}",
                  "\\text{(A)}|A", "A|(A)", "B|C", "\\text{no solution}|\\text{No solution}", "\\text{even}|\\text{odd}"]),
        ("factorial", ["5!|120", "\\binom{5}{2}|10", "10!|3628800", "\\binom{6}{3}|20", "4!|25", "2^{10}|1024", "10^{3}|1000",
                       "2^{-1}|\\frac12", "2^10|1024", "3^{4}|81"]),
        ("malformed", ["\\frac{1}{2}|\\frac{1}{", "2|\\sqrt{", "1|{{1}", "}|}", "\\frac{1}{2}|\\frac{1}{2", "5|5}", "(1,2|(1,2)",
                       "x+|x", "\\left(3\\right|3", "2|2^", "1|\\unknowncommand{1}", "3|\\boxed{3"]),
        ("empty", ["|5", "5|", "|", " | ", "\\text{}|0"]),
        ("competition", ["\\frac{1+\\sqrt{5}}{2}|\\frac{\\sqrt5+1}{2}", "\\frac{1+\\sqrt{5}}{2}|1.618", "3\\sqrt{3}-1|-1+3\\sqrt3",
                         "\\frac{9\\pi}{2}|4.5\\pi", "10\\sqrt{2}|\\sqrt{200}", "\\$12.50|12.5", "k=3|3", "\\text{B}|B",
                         "\\begin{pmatrix}1\\\\2\\end{pmatrix}|\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
                         "\\begin{pmatrix}1\\\\2\\end{pmatrix}|\\begin{pmatrix}2\\\\1\\end{pmatrix}",
                         "\\dfrac{\\sqrt{3}}{2}|\\frac{\\sqrt3}{2}", "\\sqrt{3}/2|0.866", "2^{2019}|4^{1009.5}",
                         "\\frac{1}{2^{10}}|2^{-10}", "1.2 \\times 10^{3}|1200", "6.02\\times10^{23}|602000000000000000000000",
                         "-\\infty|\\infty", "\\log 100|2", "\\ln(e^2)|2", "e^{i\\pi}|-1", "\\cos(\\pi/3)|\\frac12",
                         "\\tan 45^\\circ|1", "1:2|\\frac12", "x^2+y^2=1|y^2+x^2=1", "y=-\\frac{1}{2}x+3|y = 3 - 0.5x",
                         "\\{(1,2),(3,4)\\}|\\{(3,4),(1,2)\\}", "(1,2),(3,4)|(3,4),(1,2)", "a=1,b=2|a=1, b=2",
                         "\\frac{\\sqrt{2}}{2}|\\sin 45^\\circ", "12\\sqrt{3}|20.78"]),
    ]
    for shape, items in handpicked:
        for item in items:
            reference, prediction = item.split("|", 1) if item.count("|") == 1 else item.rsplit("|", 1)
            add(reference, prediction, shape)

    # Random rationals in two spellings (equivalent) or a perturbed value (not equivalent).
    for _ in range(200):
        value = random_rational(rng)
        other = value if rng.random() < 0.6 else value + Fraction(rng.choice([1, -1, 2]), rng.choice([1, 2, 3, 10]))
        add(render_rational(rng, value, rng.choice(RATIONAL_STYLES)),
            render_rational(rng, other, rng.choice(RATIONAL_STYLES)), "random_rational")

    # Random polynomials: expanded versus factored or rearranged forms.
    for _ in range(70):
        a, b = rng.randint(-6, 6), rng.randint(-6, 6)
        variable = rng.choice(["x", "t", "n"])
        expanded = f"{variable}^2{-(a + b):+d}{variable}{a * b:+d}".replace("+-", "-")
        factored = f"({variable}{-a:+d})({variable}{-b:+d})"
        if rng.random() < 0.35:
            factored = f"({variable}{-a:+d})({variable}{-b - 1:+d})"
        pair = (expanded, factored) if rng.random() < 0.5 else (factored, expanded)
        add(pair[0], pair[1], "random_polynomial")

    # Random tuples, intervals and sets of small rationals.
    for _ in range(60):
        values = [random_rational(rng) for _ in range(rng.randint(2, 3))]
        kind = rng.choice(["tuple", "interval", "set"])
        changed = list(values)
        if rng.random() < 0.4:
            changed[rng.randrange(len(changed))] += 1
        render = lambda vs: [render_rational(rng, v, rng.choice(RATIONAL_STYLES)) for v in vs]
        if kind == "tuple":
            add("(" + ", ".join(render(values)) + ")", "(" + ",".join(render(changed)) + ")", "random_tuple")
        elif kind == "interval":
            low, high = sorted(values[:2])
            brackets = rng.choice(["[]", "()", "[)", "(]"])
            other = brackets if rng.random() < 0.7 else rng.choice(["[]", "()", "[)", "(]"])
            low2 = low if rng.random() < 0.8 else low - 1
            add(f"{brackets[0]}{render([low])[0]}, {render([high])[0]}{brackets[1]}",
                f"{other[0]}{render([low2])[0]},{render([high])[0]}{other[1]}", "random_interval")
        else:
            shuffled = list(changed)
            rng.shuffle(shuffled)
            add("\\{" + ", ".join(render(values)) + "\\}", "\\{" + ",".join(render(shuffled)) + "\\}", "random_set")

    result = []
    for reference, prediction, shape in pairs:
        gold = parse("\\boxed{" + reference + "}")
        predicted = parse("\\boxed{" + prediction + "}")
        result.append({
            "reference": reference,
            "prediction": prediction,
            "shape": shape,
            "math_verify": bool(verify(gold, predicted)),
            "math_verify_reversed": bool(verify(predicted, gold)),
        })
    return result


def write(name, kind, key, items):
    payload = header(kind)
    payload[key] = items
    path = OUT / name
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path} ({len(items)} {key})")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    write("bleu_pairs.json", "bleu", "pairs", make_bleu_pairs(random.Random(2508_05004)))
    write("clustering_batches.json", "clustering", "batches", make_clustering_batches(random.Random(7)))
    write("grader_pairs.json", "grader", "pairs", make_grader_pairs(random.Random(20250811)))


if __name__ == "__main__":
    main()
