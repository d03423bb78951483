/// Sequences of different lengths packed end to end, so no compute is spent on padding and no token
/// can attend across a sequence boundary. Token n of sequence s sits at row `starts[s] + n`.
public struct PackedBatch: Sendable {
    public let ids: [Int32]  // (N)
    public let positions: [Int32]  // (N), restarting at 0 for every sequence
    public let starts: [Int]
    public let lengths: [Int]
    /// Offset of each sequence's (len, len) score block, per head: Σ_{s' < s} len(s')².
    public let scoreOffsets: [Int]
    public let totalScoreSize: Int  // Σ len²
    public var tokenCount: Int { ids.count }
    public var maxLength: Int { lengths.max() ?? 0 }

    public init(sequences: [[Int32]]) {
        var ids: [Int32] = []
        var positions: [Int32] = []
        var starts: [Int] = []
        var lengths: [Int] = []
        var scoreOffsets: [Int] = []
        var scores = 0
        for s in sequences {
            starts.append(ids.count)
            lengths.append(s.count)
            scoreOffsets.append(scores)
            scores += s.count * s.count
            ids.append(contentsOf: s)
            positions.append(contentsOf: (0..<s.count).map { Int32($0) })
        }
        self.ids = ids
        self.positions = positions
        self.starts = starts
        self.lengths = lengths
        self.scoreOffsets = scoreOffsets
        self.totalScoreSize = scores
    }

    /// Row i predicts the next token of its own sequence; the last row of each sequence predicts nothing (-1).
    public var nextTokenTargets: [Int32] {
        var t = [Int32](repeating: -1, count: ids.count)
        for (s, start) in starts.enumerated() where lengths[s] > 1 {
            for i in start..<(start + lengths[s] - 1) { t[i] = ids[i + 1] }
        }
        return t
    }
}
