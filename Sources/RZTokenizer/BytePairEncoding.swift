/// The `BPE` model over raw bytes: each pre-tokenized piece starts as one symbol per byte and is
/// merged by rank. Ports `BPE::merge_word` (huggingface/tokenizers `models/bpe/model.rs`) and
/// `Word::merge_all` (`models/bpe/word.rs`): a min-heap of candidate merges ordered by rank, ties to
/// the leftmost position, stale entries skipped when popped. Same order, same result.
struct BytePairEncoding: Sendable {
    /// `byteIds[b]`: the id of the one-byte token for byte `b`, or -1 if the vocabulary lacks it.
    /// With `unk_token` null such bytes are dropped, as tokenizers does (`merge_word` adds nothing).
    let byteIds: [Int32]
    /// `(left << 32 | right)` → `(rank << 32 | merged id)`.
    let merges: [UInt64: UInt64]
    /// With `ignore_merges`, a piece that is itself in the vocabulary is that one token
    /// (`tokenize_with_cache` in `model.rs`). Keyed by the piece's raw bytes; empty otherwise.
    let wholeWords: [[UInt8]: Int32]
    let ignoreMerges: Bool

    init(vocab: [String: Int32], merges mergeList: [(String, String)], ignoreMerges: Bool) throws(TokenizerError) {
        var byteIds = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            if let id = vocab[String(ByteLevel.scalarForByte[b])] { byteIds[b] = id }
        }
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, (a, b)) in mergeList.enumerated() {
            guard let left = vocab[a] else { throw .mergeOutOfVocabulary(rank: rank, token: a) }
            guard let right = vocab[b] else { throw .mergeOutOfVocabulary(rank: rank, token: b) }
            guard let merged = vocab[a + b] else { throw .mergeOutOfVocabulary(rank: rank, token: a + b) }
            // A repeated pair keeps its last rank: tokenizers collects the merges into a HashMap.
            merges[Self.key(left, right)] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
        }
        var wholeWords: [[UInt8]: Int32] = [:]
        if ignoreMerges {
            for (token, id) in vocab {
                if let raw = ByteLevel.rawBytes(ofSpelling: token) { wholeWords[raw] = id }
            }
        }
        self.byteIds = byteIds
        self.merges = merges
        self.wholeWords = wholeWords
        self.ignoreMerges = ignoreMerges
    }

    /// True when every byte has its own token, so no input byte can be dropped.
    var coversAllBytes: Bool { !byteIds.contains(-1) }

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Appends the ids of one pre-tokenized piece (raw UTF-8 bytes) to `out`.
    func encode(_ piece: UnsafeBufferPointer<UInt8>, into out: inout [Int32], scratch: inout MergeScratch) {
        if piece.isEmpty { return }
        if ignoreMerges, let id = wholeWords[Array(piece)] {
            out.append(id)
            return
        }
        // Take the buffers out of `scratch` so they are uniquely referenced (no copy on write).
        var ids = scratch.ids
        scratch.ids = []
        ids.removeAll(keepingCapacity: true)
        for b in piece where byteIds[Int(b)] >= 0 { ids.append(byteIds[Int(b)]) }
        if ids.count > 1 { mergeAll(&ids, scratch: &scratch) }
        out.append(contentsOf: ids)
        scratch.ids = ids
    }

    /// `Word::merge_all`: symbols form a linked list; the heap holds `(rank << 32 | position)`, so
    /// the smallest entry is the lowest rank, then the leftmost position. An entry is stale when its
    /// left symbol was absorbed, has no right neighbour, or the pair there now merges differently.
    private func mergeAll(_ ids: inout [Int32], scratch: inout MergeScratch) {
        let n = ids.count
        var prev = scratch.prev, next = scratch.next, alive = scratch.alive
        var heap = scratch.heap
        scratch = MergeScratch()
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        alive.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        for i in 0..<n {
            prev.append(i - 1)
            next.append(i + 1 < n ? i + 1 : -1)
            alive.append(true)
        }
        for i in 0..<(n - 1) {
            if let m = merges[Self.key(ids[i], ids[i + 1])] {
                heap.push(m & 0xFFFF_FFFF_0000_0000 | UInt64(i))
            }
        }
        while let top = heap.pop() {
            let pos = Int(top & 0xFFFF_FFFF)
            let rank = top >> 32
            guard alive[pos], next[pos] >= 0 else { continue }
            let right = next[pos]
            guard let m = merges[Self.key(ids[pos], ids[right])], m >> 32 == rank else { continue }
            ids[pos] = Int32(bitPattern: UInt32(truncatingIfNeeded: m))
            alive[right] = false
            let after = next[right]
            next[pos] = after
            if after >= 0 { prev[after] = pos }
            if prev[pos] >= 0, let m = merges[Self.key(ids[prev[pos]], ids[pos])] {
                heap.push(m & 0xFFFF_FFFF_0000_0000 | UInt64(prev[pos]))
            }
            if after >= 0, let m = merges[Self.key(ids[pos], ids[after])] {
                heap.push(m & 0xFFFF_FFFF_0000_0000 | UInt64(pos))
            }
        }
        var k = 0
        var i = 0
        while i >= 0 {
            ids[k] = ids[i]
            k += 1
            i = next[i]
        }
        ids.removeLast(n - k)
        scratch.prev = prev
        scratch.next = next
        scratch.alive = alive
        scratch.heap = heap
    }
}

/// Buffers reused across the pieces of one `encode` call, so merging allocates nothing per piece.
struct MergeScratch {
    var ids: [Int32] = []
    var prev: [Int] = []
    var next: [Int] = []
    var alive: [Bool] = []
    var heap = MinHeap()
}

/// A binary min-heap of `UInt64`.
struct MinHeap {
    private var items: [UInt64] = []

    mutating func removeAll(keepingCapacity: Bool) { items.removeAll(keepingCapacity: keepingCapacity) }

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= x { break }
            items[i] = items[parent]
            i = parent
        }
        items[i] = x
    }

    mutating func pop() -> UInt64? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        let n = items.count
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            let r = l + 1
            let c = r < n && items[r] < items[l] ? r : l
            if items[c] >= last { break }
            items[i] = items[c]
            i = c
        }
        items[i] = last
        return top
    }
}
