import Dispatch
import Glibc

/// A raw pointer that may cross into `concurrentPerform` workers.
///
/// Unchecked because the workers write disjoint rows; each call site guarantees that
/// no two iterations touch the same element and that the buffer outlives the loop.
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

/// Runs `body(i)` for `0..<count` on all cores, in contiguous chunks so per-chunk
/// scratch buffers amortise.
func parallelFor(_ count: Int, _ body: @Sendable (Int) -> Void) {
    parallelChunks(count) { range in for i in range { body(i) } }
}

/// Runs `body` over contiguous sub-ranges of `0..<count` concurrently.
func parallelChunks(_ count: Int, _ body: @Sendable (Range<Int>) -> Void) {
    guard count > 0 else { return }
    // A thread that lowered its own priority below the process's (an agent starting beside a
    // serving cluster) does not fan out onto dispatch's workers, which keep the process's.
    // Linux: who = 0 is the calling thread, who = pid the main one.
    let which = __priority_which_t(PRIO_PROCESS.rawValue)
    if getpriority(which, 0) > getpriority(which, id_t(getpid())) {
        body(0..<count)
        return
    }
    let chunks = Swift.min(count, 16)
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = count * c / chunks, hi = count * (c + 1) / chunks
        if lo < hi { body(lo..<hi) }
    }
}

/// Fixed-size result slots filled by index from concurrent workers.
///
/// Unchecked Sendable: storage is a raw allocation (no Swift exclusivity tracking), and
/// every index is written by exactly one worker before `values` is read after the loop.
package final class ConcurrentSlots<T: Sendable>: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<T?>
    private let count: Int

    package init(count: Int) {
        self.count = count
        storage = .allocate(capacity: max(count, 1))
        storage.initialize(repeating: nil, count: count)
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    package func set(_ index: Int, _ value: T) { storage[index] = value }

    package var values: [T] { (0..<count).map { storage[$0]! } }
}
