// The libcurl layer: easy handles, their pool (keep-alive), and one blocking transfer run on its own
// thread so that `curl_easy_perform` never blocks Swift's cooperative thread pool.

internal import CCurl
internal import CCurlShim
internal import Foundation
internal import Synchronization

/// One libcurl easy handle (`CURL *`). Its connection cache is what makes keep-alive work, so handles are
/// reused through `HandlePool` rather than created per request.
final class EasyHandle: @unchecked Sendable {
    // Why @unchecked is safe: the raw pointer is only used by whoever holds the handle, and a handle is held
    // by exactly one party at a time: `HandlePool` while idle (under its mutex), or one request between
    // `checkOut()` and `checkIn(_:)`, during which only that request's transfer thread touches it.
    let raw: UnsafeMutableRawPointer

    init?() {
        guard rz_curl_global_init() == CURLE_OK, let raw = curl_easy_init() else { return nil }
        self.raw = raw
    }

    deinit { curl_easy_cleanup(raw) }
}

/// Idle easy handles, reused across requests (each keeps its open connections). At most `capacity` idle
/// handles are kept; concurrent requests beyond that get fresh handles that are freed afterwards.
final class HandlePool: Sendable {
    private let idle = Mutex<[EasyHandle]>([])
    let capacity: Int

    init(capacity: Int) { self.capacity = max(0, capacity) }

    func checkOut() -> EasyHandle? {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        return EasyHandle()
    }

    func checkIn(_ handle: EasyHandle) {
        let kept = idle.withLock { handles in
            guard handles.count < capacity else { return false }
            handles.append(handle)
            return true
        }
        _ = kept  // a handle that is not kept is freed (curl_easy_cleanup) when its last reference goes
    }

    var idleCount: Int { idle.withLock { $0.count } }
}

/// What one transfer sends.
struct CurlRequest: Sendable {
    var url: String
    var method: String
    /// `Name: value` lines.
    var headerLines: [String]
    /// nil: no request body (GET, HEAD, ...). Sent with POSTFIELDSIZE_LARGE + COPYPOSTFIELDS.
    var body: Data?
    var connectTimeoutMilliseconds: Int
    var timeoutMilliseconds: Int
    var maxResponseBytes: Int
    /// Open a new connection instead of reusing a kept-alive one. libcurl silently re-sends a request whose
    /// reused connection closed before any answer, which must not happen to a call that is unsafe to repeat.
    var freshConnection = false
}

struct CurlResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: Data
}

/// A transfer that libcurl reported as failed.
struct CurlFailure: Error, Sendable {
    var code: CURLcode
    var message: String
    /// Whether any part of the request went out (CURLINFO_REQUEST_SIZE > 0). When false the server cannot
    /// have acted on it, so even a non-idempotent call may be repeated.
    var requestSent: Bool
    var responseTooLarge: Bool = false

    var isCancelled: Bool { code == CURLE_ABORTED_BY_CALLBACK }

    /// Failures of the connection (refused, reset, timed out, empty or partial reply), worth another try.
    var isConnectionFailure: Bool {
        Self.connectionCodes.contains(code.rawValue)
    }

    private static let connectionCodes: Set<UInt32> = [
        CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_GOT_NOTHING,
        CURLE_PARTIAL_FILE, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_HTTP2, CURLE_HTTP2_STREAM,
    ].reduce(into: []) { $0.insert($1.rawValue) }
}

/// Set from any thread when the awaiting task is cancelled; the transfer's progress callback polls it.
final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// Per-transfer state that libcurl's callbacks reach through their context pointer. Lives on the transfer
/// thread only.
private final class TransferState {
    let maxBytes: Int
    let cancel: CancelFlag
    var body = Data()
    var headers: [(name: String, value: String)] = []
    var tooLarge = false

    init(maxBytes: Int, cancel: CancelFlag) {
        self.maxBytes = maxBytes
        self.cancel = cancel
    }

    func headerLine(_ bytes: UnsafeRawBufferPointer) {
        var line = String(decoding: bytes, as: UTF8.self)
        while line.last == "\n" || line.last == "\r" { line.removeLast() }
        if line.hasPrefix("HTTP/") {
            headers.removeAll()  // a new response (after 100 Continue or a redirect): start over
        } else if let first = line.first, first == " " || first == "\t", !headers.isEmpty {
            headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)  // obs-fold
        } else if let colon = line.firstIndex(of: ":") {
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            if !name.isEmpty { headers.append((name, value)) }
        }
    }
}

private let writeCallback: rz_curl_data_callback = { buffer, size, count, context in
    guard let context else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
    let n = size * count
    guard let buffer, n > 0 else { return n }
    if state.body.count + n > state.maxBytes {
        state.tooLarge = true
        return 0  // CURLE_WRITE_ERROR
    }
    state.body.append(UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: n)
    return n
}

private let headerCallback: rz_curl_data_callback = { buffer, size, count, context in
    guard let context else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
    let n = size * count
    if let buffer, n > 0 { state.headerLine(UnsafeRawBufferPointer(start: buffer, count: n)) }
    return n
}

private let progressCallback: rz_curl_xferinfo_callback = { context, _, _, _, _ in
    guard let context else { return 0 }
    return Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue().cancel.isCancelled ? 1 : 0
}

enum Curl {
    /// Runs one transfer on a new thread and suspends (without blocking a cooperative thread) until it ends.
    /// Cancelling the task aborts the transfer within about a second (libcurl's progress callback interval).
    static func perform(_ request: CurlRequest, on handle: EasyHandle) async -> Result<CurlResponse, CurlFailure> {
        let cancel = CancelFlag()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<CurlResponse, CurlFailure>, Never>) in
                let thread = Thread {
                    continuation.resume(returning: performBlocking(request, on: handle, cancel: cancel))
                }
                thread.name = "rzero-curl"
                thread.start()
            }
        } onCancel: {
            cancel.cancel()
        }
    }

    /// Runs one transfer on the calling thread.
    static func performBlocking(_ request: CurlRequest, on handle: EasyHandle, cancel: CancelFlag) -> Result<CurlResponse, CurlFailure> {
        let h = handle.raw
        curl_easy_reset(h)  // keeps the handle's open connections, DNS and session caches
        let state = TransferState(maxBytes: request.maxResponseBytes, cancel: cancel)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for line in request.headerLines {
            guard let list = curl_slist_append(headerList, line) else {
                return .failure(CurlFailure(code: CURLE_OUT_OF_MEMORY, message: "curl_slist_append failed", requestSent: false))
            }
            headerList = list
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        return withExtendedLifetime(state) {
            errorBuffer.withUnsafeMutableBufferPointer { errorBytes in
                let context = Unmanaged.passUnretained(state).toOpaque()
                var setup = CURLE_OK
                func check(_ code: CURLcode) { if setup == CURLE_OK { setup = code } }
                check(rz_curl_easy_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBytes.baseAddress))
                check(rz_curl_easy_setopt_string(h, CURLOPT_URL, request.url))
                check(rz_curl_easy_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https"))
                check(rz_curl_easy_setopt_long(h, CURLOPT_NOSIGNAL, 1))
                check(rz_curl_easy_setopt_long(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1))
                check(rz_curl_easy_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, max(1, request.connectTimeoutMilliseconds)))
                check(rz_curl_easy_setopt_long(h, CURLOPT_TIMEOUT_MS, max(1, request.timeoutMilliseconds)))
                check(rz_curl_easy_setopt_long(h, CURLOPT_TCP_NODELAY, 1))
                if request.freshConnection { check(rz_curl_easy_setopt_long(h, CURLOPT_FRESH_CONNECT, 1)) }
                check(rz_curl_easy_setopt_slist(h, CURLOPT_HTTPHEADER, headerList))
                check(rz_curl_easy_setopt_write_function(h, writeCallback))
                check(rz_curl_easy_setopt_pointer(h, CURLOPT_WRITEDATA, context))
                check(rz_curl_easy_setopt_header_function(h, headerCallback))
                check(rz_curl_easy_setopt_pointer(h, CURLOPT_HEADERDATA, context))
                check(rz_curl_easy_setopt_xferinfo_function(h, progressCallback))
                check(rz_curl_easy_setopt_pointer(h, CURLOPT_XFERINFODATA, context))
                check(rz_curl_easy_setopt_long(h, CURLOPT_NOPROGRESS, 0))
                let method = request.method.uppercased()
                if let body = request.body {
                    check(rz_curl_easy_setopt_long(h, CURLOPT_POST, 1))
                    // The size first: COPYPOSTFIELDS then copies exactly that many bytes (the body may hold NULs).
                    check(rz_curl_easy_setopt_off_t(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
                    if body.isEmpty {
                        check(rz_curl_easy_setopt_string(h, CURLOPT_COPYPOSTFIELDS, ""))
                    } else {
                        body.withUnsafeBytes { bytes in
                            check(rz_curl_easy_setopt_pointer(h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress)))
                        }
                    }
                    if method != "POST" { check(rz_curl_easy_setopt_string(h, CURLOPT_CUSTOMREQUEST, method)) }
                } else if method == "HEAD" {
                    check(rz_curl_easy_setopt_long(h, CURLOPT_NOBODY, 1))
                } else {
                    check(rz_curl_easy_setopt_long(h, CURLOPT_HTTPGET, 1))
                    if method != "GET" { check(rz_curl_easy_setopt_string(h, CURLOPT_CUSTOMREQUEST, method)) }
                }
                guard setup == CURLE_OK else {
                    return .failure(CurlFailure(code: setup, message: "curl_easy_setopt: \(describe(setup))", requestSent: false))
                }
                let code = curl_easy_perform(h)
                // Nothing may point into this frame once the handle goes back to the pool.
                _ = rz_curl_easy_setopt_pointer(h, CURLOPT_ERRORBUFFER, nil)
                if code != CURLE_OK {
                    var requestSize = 0
                    _ = rz_curl_easy_getinfo_long(h, CURLINFO_REQUEST_SIZE, &requestSize)
                    let detail = errorBytes.baseAddress.map { String(cString: $0) } ?? ""
                    var message = detail.isEmpty ? describe(code) : detail
                    if state.tooLarge { message = "response body larger than \(request.maxResponseBytes) bytes" }
                    return .failure(CurlFailure(code: code, message: message, requestSent: requestSize > 0,
                                                responseTooLarge: state.tooLarge))
                }
                var status = 0
                _ = rz_curl_easy_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
                return .success(CurlResponse(status: status, headers: state.headers, body: state.body))
            }
        }
    }

    static func describe(_ code: CURLcode) -> String {
        String(cString: curl_easy_strerror(code))
    }
}
