import Foundation
import RZTensor

/// Random data and Float-vs-Double comparison for numeric tests.
public enum TestData {
    public static func random(_ n: Int, seed: UInt64, scale: Double = 1) -> [Double] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in rng.nextNormal() * scale }
    }

    /// The first element where |fast − ref| > atol + rtol·|ref| (or fast is not finite), described; nil when all pass.
    public static func mismatch(_ fast: [Float], _ ref: [Double], atol: Double = 1e-5, rtol: Double = 1e-4) -> String? {
        if fast.count != ref.count { return "size \(fast.count) vs \(ref.count)" }
        for i in 0..<fast.count {
            let a = Double(fast[i])
            if !a.isFinite || abs(a - ref[i]) > atol + rtol * abs(ref[i]) {
                return "element \(i): \(a) vs reference \(ref[i])"
            }
        }
        return nil
    }

    /// max|a − b| / max(max|b|, 1e-12): a per-tensor relative error that ignores near-zero entries.
    public static func relativeMaxError(_ a: [Float], _ b: [Float]) -> Double {
        var diff = 0.0, scale = 0.0
        for (x, y) in zip(a, b) {
            diff = max(diff, abs(Double(x) - Double(y)))
            scale = max(scale, abs(Double(y)))
        }
        return a.count == b.count ? diff / max(scale, 1e-12) : .infinity
    }

    /// ‖a − b‖₂ / ‖b‖₂.
    public static func relativeNormError(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count else { return .infinity }
        var diff = 0.0, norm = 0.0
        for (x, y) in zip(a, b) {
            diff += (Double(x) - Double(y)) * (Double(x) - Double(y))
            norm += Double(y) * Double(y)
        }
        return (diff / max(norm, 1e-300)).squareRoot()
    }

    public static func maxAbsError(_ a: [Float], _ b: [Float]) -> Double {
        a.count == b.count ? zip(a, b).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) } : .infinity
    }
}

extension Array where Element == Double {
    public var floats: [Float] { map { Float($0) } }
}

/// Finite-difference checks (cs231n's eval_numerical_gradient_array): for an upstream gradient g and
/// f(x) = <g, forward(x)>, compare the analytic vjp with (f(x+h) − f(x−h)) / 2h at h = 1e-5.
public enum FiniteDifference {
    /// Max over sampled coordinates of |a − n| / max(1e-8, |a| + |n|).
    public static func relativeError(
        x: [Double], analytic: [Double], coordinates: Int = 40, seed: UInt64 = 99, h: Double = 1e-5,
        objective: ([Double]) -> Double
    ) -> Double {
        var rng = SeededRandom(seed: seed)
        let picks = x.count <= coordinates ? Array(0..<x.count) : (0..<coordinates).map { _ in Int(rng.next() % UInt64(x.count)) }
        var worst = 0.0
        for i in picks {
            var xp = x, xm = x
            xp[i] += h
            xm[i] -= h
            let numeric = (objective(xp) - objective(xm)) / (2 * h)
            worst = max(worst, abs(analytic[i] - numeric) / max(1e-8, abs(analytic[i]) + abs(numeric)))
        }
        return worst
    }

    public static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
}

/// Locates committed fixtures relative to this source file, so tests never depend on the working directory.
public enum Fixtures {
    public static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// Runs the `rzero` executable built next to the test bundle (`swift build --build-tests` builds both).
public enum CLI {
    public struct NotBuilt: Error, CustomStringConvertible {
        public var description: String { "rzero executable not found next to the test bundle; build with `swift build --build-tests`" }
    }

    public static var executable: String? {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("rzero").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    public static func run(_ args: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        guard let exe = executable else { throw NotBuilt() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// A fresh, empty temporary directory (tests never share one).
public func temporaryDirectory(_ label: String = "rzero-test") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}
