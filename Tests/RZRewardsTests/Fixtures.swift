import Foundation
import Testing

/// Loads the committed fixtures in Tests/Fixtures/rewards (made by scripts/make_reward_fixtures.py).
enum Fixtures {
    static let magic = "rzero-reward-fixtures"
    static let version = 1

    static var directory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // RZRewardsTests
            .deletingLastPathComponent()  // Tests
            .appendingPathComponent("Fixtures/rewards")
    }

    struct Header: Decodable {
        var magic: String
        var version: Int
    }

    /// Decodes `name`, refusing a file from another generator version.
    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        let header = try JSONDecoder().decode(Header.self, from: data)
        guard header.magic == magic, header.version == version else {
            throw FixtureError.staleFixture(
                "\(name) has magic \(header.magic) version \(header.version); expected \(magic) version \(version). "
                    + "HINT: re-run scripts/make_reward_fixtures.py")
        }
        return try JSONDecoder().decode(T.self, from: data)
    }

    enum FixtureError: Error {
        case staleFixture(String)
    }
}
