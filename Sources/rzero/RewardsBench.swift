import ArgumentParser
import RZRewards

/// `rzero bench rewards`: times the reward logic (build with `-c release` for meaningful numbers).
struct RewardsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rewards",
        abstract: "Time BLEU clustering of 512 questions and the grader on adversarial inputs."
    )

    func run() throws {
        for line in RewardsBenchmark.run() { print(line) }
    }
}
