import Testing
@testable import RZRewards

@Suite("Average-linkage clustering against scikit-learn")
struct ClusteringTests {
    struct Batch: Decodable {
        var questions: [String]?
        var condensed: [Double]?
        var count: Int?
        var threshold: Double
        var labels: [Int]
    }

    struct File: Decodable {
        var batches: [Batch]
    }

    /// A partition as a set of sets of item indices, so label numbering does not matter.
    static func partition(_ labels: [Int]) -> Set<Set<Int>> {
        var groups: [Int: Set<Int>] = [:]
        for (index, label) in labels.enumerated() { groups[label, default: []].insert(index) }
        return Set(groups.values)
    }

    @Test("BLEU-distance batches and random-distance batches give scikit-learn's partitions")
    func matchesScikitLearn() throws {
        let file = try Fixtures.load("clustering_batches.json", as: File.self)
        let bleuBatches = file.batches.filter { $0.questions != nil }
        #expect(bleuBatches.count >= 20)
        var nonTrivial = 0
        for (index, batch) in file.batches.enumerated() {
            let labels: [Int]
            if let questions = batch.questions {
                labels = ChallengerReward.repetitionClusters(questions: questions, distanceThreshold: batch.threshold)
            } else {
                let count = batch.count ?? 0
                labels = AverageLinkageClustering.labels(condensed: batch.condensed ?? [], count: count, threshold: batch.threshold)
            }
            let expected = Self.partition(batch.labels)
            #expect(Self.partition(labels) == expected, "batch \(index)")
            if expected.count > 1 && expected.contains(where: { $0.count > 1 }) { nonTrivial += 1 }
        }
        // The fixture must exercise real merging, not only singletons or one big cluster.
        #expect(nonTrivial >= 15)
    }

    @Test("hand-computed example: merges below the threshold, stops at it")
    func handExample() {
        // Items 0,1 at distance 0.1; item 2 at 0.4 from both: average 0.4 < 0.5 merges all three;
        // item 3 at 0.9 from everyone stays alone.
        let condensed = [0.1, 0.4, 0.9, 0.4, 0.9, 0.9]
        #expect(AverageLinkageClustering.labels(condensed: condensed, count: 4, threshold: 0.5) == [0, 0, 0, 1])
        // At τ = 0.4 the merge at exactly 0.4 is not made (strictly below the threshold).
        #expect(AverageLinkageClustering.labels(condensed: condensed, count: 4, threshold: 0.4) == [0, 0, 1, 2])
        #expect(AverageLinkageClustering.labels(condensed: [], count: 1, threshold: 0.5) == [0])
        #expect(AverageLinkageClustering.labels(condensed: [], count: 0, threshold: 0.5) == [])
    }

    @Test("merge distances come out sorted and are average distances")
    func mergeDistances() {
        let condensed = [0.1, 0.4, 0.9, 0.4, 0.9, 0.9]
        let merges = AverageLinkageClustering.merges(condensed: condensed, count: 4)
        #expect(merges.map(\.distance) == [0.1, 0.4, 0.9])
    }
}
