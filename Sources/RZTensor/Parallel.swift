import Dispatch
import Foundation
import Synchronization

/// The process's one compute thread pool. OpenBLAS runs single-threaded inside it: on a 2-core
/// machine a second pool (OpenBLAS's own threads, which spin in sched_yield between calls) steals
/// the cores the elementwise kernels need. Large GEMMs are split into blocks across the workers instead.
public enum Parallelism {
    private static let configured = Atomic<Int>(max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// Number of worker chunks used by `parallelChunks` and by `gemm` splitting.
    public static var workers: Int { configured.load(ordering: .relaxed) }

    /// Sets the worker count. Call at start-up, before any model allocates its scratch space.
    public static func configure(threads: Int) {
        configured.store(max(1, threads), ordering: .relaxed)
    }
}

/// Splits `0..<count` into contiguous chunks and runs them on the CPU cores.
///
/// Small jobs (below `minimumPerChunk` items per chunk) run inline: thread hand-off costs more
/// than a short loop. `body` receives a half-open range and the chunk index (< `Parallelism.workers`).
public func parallelChunks(
    _ count: Int, minimumPerChunk: Int = 1, _ body: (Range<Int>, Int) -> Void
) {
    if count <= 0 { return }
    let workers = min(Parallelism.workers, max(1, count / max(1, minimumPerChunk)))
    if workers <= 1 {
        body(0..<count, 0)
        return
    }
    // Safe to share: concurrentPerform returns only after every iteration has finished, so `body`
    // (and the buffers it captures) outlives all uses; each iteration gets a disjoint range, and
    // callers write only to memory owned by their range or their chunk index.
    nonisolated(unsafe) let work = body
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let lo = count * w / workers
        let hi = count * (w + 1) / workers
        if lo < hi { work(lo..<hi, w) }
    }
}
