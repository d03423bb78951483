import Foundation

/// Sentence BLEU-4 exactly as NLTK's `sentence_bleu(references=[ref], hypothesis=hyp,
/// smoothing_function=SmoothingFunction().method1)` computes it with the default uniform weights:
///
/// - tokens: `str.split()` (runs of whitespace);
/// - modified precision p_n = Σ_g min(count_hyp(g), count_ref(g)) / max(1, Σ_g count_hyp(g));
/// - BLEU = 0 when no unigram matches (NLTK returns 0 before smoothing);
/// - method1: a zero p_n becomes ε / max(1, Σ count_hyp) with ε = 0.1;
/// - brevity penalty 1 if |hyp| > |ref|, 0 if |hyp| = 0, else exp(1 − |ref| / |hyp|);
/// - BLEU = BP · exp(Σ_n ¼ · log p_n).
///
/// For a batch, `BLEUCorpus` converts each sentence once into sorted arrays of dense n-gram ids
/// with counts, so each pairwise score is a linear merge of integer arrays: no hashing, no strings.
public enum SentenceBLEU {
    /// NLTK `SmoothingFunction().epsilon`.
    public static let smoothingEpsilon = 0.1
    /// BLEU-4: n-grams up to length 4, each with weight 1/4.
    public static let maxOrder = 4

    /// BLEU of `hypothesis` against the single reference `reference`.
    public static func score(hypothesis: String, reference: String) -> Double {
        let corpus = BLEUCorpus(sentences: [hypothesis, reference])
        return corpus.score(hypothesis: 0, reference: 1)
    }

    /// Whitespace tokens as Python's `str.split()` produces them, as UTF-8 bytes: splits at
    /// Unicode whitespace scalars and at U+001C–U+001F, which Python also treats as whitespace.
    /// Tokens are compared by their bytes, as Python compares `str` by code points (Swift's
    /// `String` equality would also merge canonically equivalent spellings).
    public static func tokens(_ sentence: String) -> [[UInt8]] {
        var tokens: [[UInt8]] = []
        var current: [UInt8] = []
        for scalar in sentence.unicodeScalars {
            if scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value) {
                if !current.isEmpty {
                    tokens.append(current)
                    current.removeAll(keepingCapacity: true)
                }
            } else {
                UTF8.encode(scalar) { current.append($0) }
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }
}

/// A batch of sentences prepared for fast pairwise BLEU.
public struct BLEUCorpus: Sendable {
    /// One sentence's n-gram statistics: for each order n (index n−1), the sorted distinct n-gram
    /// ids and their counts, plus the token count.
    struct SentenceStatistics: Sendable {
        var length: Int
        var ngramIDs: [[Int32]]
        var ngramCounts: [[Int32]]
    }

    let sentences: [SentenceStatistics]

    /// Number of sentences.
    public var count: Int { sentences.count }

    public init(sentences texts: [String]) {
        var vocabulary: [[UInt8]: Int32] = [:]
        var ngramIndex: [NGramKey: Int32] = [:]
        var statistics: [SentenceStatistics] = []
        statistics.reserveCapacity(texts.count)
        for text in texts {
            let tokenIDs: [Int32] = SentenceBLEU.tokens(text).map { bytes in
                if let id = vocabulary[bytes] { return id }
                let id = Int32(vocabulary.count)
                vocabulary[bytes] = id
                return id
            }
            var ids: [[Int32]] = []
            var counts: [[Int32]] = []
            for order in 1...SentenceBLEU.maxOrder {
                var countByID: [Int32: Int32] = [:]
                if tokenIDs.count >= order {
                    for start in 0...(tokenIDs.count - order) {
                        let key = NGramKey(tokenIDs[start..<(start + order)])
                        let id: Int32
                        if let existing = ngramIndex[key] {
                            id = existing
                        } else {
                            id = Int32(ngramIndex.count)
                            ngramIndex[key] = id
                        }
                        countByID[id, default: 0] += 1
                    }
                }
                let sorted = countByID.sorted { $0.key < $1.key }
                ids.append(sorted.map(\.key))
                counts.append(sorted.map(\.value))
            }
            statistics.append(SentenceStatistics(length: tokenIDs.count, ngramIDs: ids, ngramCounts: counts))
        }
        sentences = statistics
    }

    /// BLEU of sentence `hypothesis` against sentence `reference` (indices into the corpus).
    public func score(hypothesis: Int, reference: Int) -> Double {
        let hyp = sentences[hypothesis]
        let ref = sentences[reference]
        var logSum = 0.0
        for order in 0..<SentenceBLEU.maxOrder {
            let matches = BLEUCorpus.clippedMatches(
                hyp.ngramIDs[order], hyp.ngramCounts[order], ref.ngramIDs[order], ref.ngramCounts[order])
            let denominator = max(1, hyp.length - order)
            if order == 0 && matches == 0 {
                return 0
            }
            let precision = matches == 0
                ? SentenceBLEU.smoothingEpsilon / Double(denominator)
                : Double(matches) / Double(denominator)
            logSum += 0.25 * log(precision)
        }
        let brevityPenalty: Double
        if hyp.length > ref.length {
            brevityPenalty = 1
        } else if hyp.length == 0 {
            brevityPenalty = 0
        } else {
            brevityPenalty = exp(1 - Double(ref.length) / Double(hyp.length))
        }
        return brevityPenalty * exp(logSum)
    }

    /// Σ min(count_hyp, count_ref) over n-grams present in both, by merging sorted id arrays.
    private static func clippedMatches(_ hypIDs: [Int32], _ hypCounts: [Int32], _ refIDs: [Int32], _ refCounts: [Int32]) -> Int {
        var total = 0
        var i = 0
        var j = 0
        while i < hypIDs.count && j < refIDs.count {
            let a = hypIDs[i]
            let b = refIDs[j]
            if a == b {
                total += Int(min(hypCounts[i], refCounts[j]))
                i += 1
                j += 1
            } else if a < b {
                i += 1
            } else {
                j += 1
            }
        }
        return total
    }

    /// The reference implementation's distance matrix (R-Zero `_bleu_distance_matrix`):
    /// d[i][i] = 0 and, for i < j, d[i][j] = d[j][i] = 1 − BLEU(hypothesis: x_i, reference: x_j).
    /// BLEU is not symmetric; the reference scores each pair once with the earlier sentence as the
    /// hypothesis and mirrors it, and so does this. Returned condensed (row-major upper triangle,
    /// as `scipy.spatial.distance.squareform` orders it).
    public func condensedDistanceMatrix() -> [Double] {
        let n = sentences.count
        guard n > 1 else { return [] }
        var distances: [Double] = []
        distances.reserveCapacity(n * (n - 1) / 2)
        for i in 0..<(n - 1) {
            for j in (i + 1)..<n {
                distances.append(1 - score(hypothesis: i, reference: j))
            }
        }
        return distances
    }
}

/// An n-gram of token ids (n ≤ 4) as a hashable key.
struct NGramKey: Hashable {
    let first: Int32
    let second: Int32
    let third: Int32
    let fourth: Int32
    let order: Int8

    init(_ ids: ArraySlice<Int32>) {
        let start = ids.startIndex
        order = Int8(ids.count)
        first = ids[start]
        second = ids.count > 1 ? ids[start + 1] : -1
        third = ids.count > 2 ? ids[start + 2] : -1
        fourth = ids.count > 3 ? ids[start + 3] : -1
    }
}
