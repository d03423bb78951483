/// Average-linkage agglomerative clustering with a distance threshold, matching
/// `sklearn.cluster.AgglomerativeClustering(n_clusters=None, metric="precomputed",
/// linkage="average", distance_threshold=τ)`.
///
/// scikit-learn builds the full dendrogram with `scipy.cluster.hierarchy.linkage(method="average")`,
/// which runs the nearest-neighbour-chain algorithm, sorts the merges by distance (stable), then
/// keeps the merges whose distance is below τ (it sets `n_clusters = #(distances ≥ τ) + 1` and
/// undoes the last merges). This file ports the same NN-chain loop, including its tie-breaking
/// (first minimum in index order, preferring the previous chain element) and its Lance–Williams
/// update `d(k, x∪y) = (|x|·d(k,x) + |y|·d(k,y)) / (|x| + |y|)`, so the partitions are identical.
/// Time O(n²), memory O(n²) for the condensed matrix (512 items: 130k doubles).
public enum AverageLinkageClustering {
    /// One merge of the dendrogram: the clusters represented by original items `first` and
    /// `second` (each cluster is represented by the item whose slot survives in the algorithm).
    public struct Merge: Sendable, Equatable {
        public var first: Int
        public var second: Int
        public var distance: Double
    }

    /// Index of pair (i, j), i ≠ j, in a condensed distance matrix of `n` items.
    @inline(__always)
    static func condensedIndex(_ n: Int, _ i: Int, _ j: Int) -> Int {
        let (low, high) = i < j ? (i, j) : (j, i)
        return n * low - low * (low + 1) / 2 + (high - low - 1)
    }

    /// The dendrogram's merges sorted by distance (stable), as `scipy...linkage` returns them
    /// before relabelling. `condensed` has n(n−1)/2 entries.
    public static func merges(condensed: [Double], count n: Int) -> [Merge] {
        guard n > 1, condensed.count == n * (n - 1) / 2 else { return [] }
        var distances = condensed
        var size = [Int](repeating: 1, count: n)
        var chain = [Int](repeating: 0, count: n)
        var chainLength = 0
        var merges: [Merge] = []
        merges.reserveCapacity(n - 1)

        for _ in 0..<(n - 1) {
            if chainLength == 0 {
                chainLength = 1
                if let firstAlive = size.firstIndex(where: { $0 > 0 }) { chain[0] = firstAlive }
            }
            var x = 0
            var y = 0
            var currentMinimum = Double.infinity
            while true {
                x = chain[chainLength - 1]
                if chainLength > 1 {
                    y = chain[chainLength - 2]
                    currentMinimum = distances[condensedIndex(n, x, y)]
                } else {
                    currentMinimum = .infinity
                }
                for i in 0..<n where size[i] != 0 && i != x {
                    let distance = distances[condensedIndex(n, x, i)]
                    if distance < currentMinimum {
                        currentMinimum = distance
                        y = i
                    }
                }
                if chainLength > 1 && y == chain[chainLength - 2] { break }
                chain[chainLength] = y
                chainLength += 1
            }
            chainLength -= 2
            if x > y { swap(&x, &y) }
            let sizeX = size[x]
            let sizeY = size[y]
            merges.append(Merge(first: x, second: y, distance: currentMinimum))
            size[x] = 0
            size[y] = sizeX + sizeY
            for i in 0..<n where size[i] != 0 && i != y {
                let distanceToX = distances[condensedIndex(n, i, x)]
                let distanceToY = distances[condensedIndex(n, i, y)]
                distances[condensedIndex(n, i, y)] =
                    (Double(sizeX) * distanceToX + Double(sizeY) * distanceToY) / Double(sizeX + sizeY)
            }
        }
        // Swift's sort is not stable; sort by (distance, merge order) to match numpy's mergesort.
        return merges.enumerated()
            .sorted { ($0.element.distance, $0.offset) < ($1.element.distance, $1.offset) }
            .map(\.element)
    }

    /// Cluster labels for `n` items: items in the same cluster share a label, and labels are
    /// numbered 0, 1, 2, ... in order of each cluster's first item (scikit-learn's label numbers
    /// differ, but the partition is the same).
    public static func labels(condensed: [Double], count n: Int, threshold: Double) -> [Int] {
        guard n > 0 else { return [] }
        var parent = Array(0..<n)
        func root(_ item: Int) -> Int {
            var current = item
            while parent[current] != current {
                parent[current] = parent[parent[current]]
                current = parent[current]
            }
            return current
        }
        for merge in merges(condensed: condensed, count: n) where merge.distance < threshold {
            let a = root(merge.first)
            let b = root(merge.second)
            if a != b { parent[max(a, b)] = min(a, b) }
        }
        var labelByRoot: [Int: Int] = [:]
        return (0..<n).map { item in
            let itemRoot = root(item)
            if let label = labelByRoot[itemRoot] { return label }
            let label = labelByRoot.count
            labelByRoot[itemRoot] = label
            return label
        }
    }
}
