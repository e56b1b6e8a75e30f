/// `agentic-fuzz`: the fuzz targets of `FuzzTargets` as one executable.
///
/// Built with `-sanitize=fuzzer -DFUZZING` (see `deploy/fuzz.sh`) it is a libFuzzer binary that
/// fuzzes the target named by `AGENTIC_FUZZ_TARGET`. Built normally it replays inputs:
/// `agentic-fuzz TARGET FILE_OR_DIRECTORY…`, for reproducing what a fuzzing run saved; and
/// `agentic-fuzz seed DIRECTORY` writes every target's seeds into `DIRECTORY/TARGET/`.
import FuzzTargets
import Foundation

#if FUZZING
private let selected: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["AGENTIC_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("AGENTIC_FUZZ_TARGET must be one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// libFuzzer's driver: its own `main` is not used, because SwiftPM links an executable's
/// entry point under the module's name (`agentic_fuzz_main`), which this is.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("agentic_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzOneInput)
}
#else
@main
enum Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "seed", arguments.count == 2 {
            return seed(into: arguments.last!)
        }
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            FileHandle.standardError.write(Data("usage: agentic-fuzz \(names) FILE_OR_DIRECTORY…\n".utf8))
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("cannot read \(file)\n".utf8))
                    exit(1)
                }
                target.run(Array(data))
                count += 1
            }
        }
        print("\(name): \(count) inputs replayed, no property broken")
    }

    static func seed(into directory: String) {
        for target in FuzzTarget.allCases {
            let folder = "\(directory)/\(target.rawValue)"
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                for (index, bytes) in target.seeds.enumerated() {
                    try Data(bytes).write(to: URL(fileURLWithPath: "\(folder)/seed-\(index)"))
                }
            } catch {
                FileHandle.standardError.write(Data("cannot write \(folder): \(error)\n".utf8))
                exit(1)
            }
            print("\(target.rawValue): \(target.seeds.count) seeds")
        }
    }

    static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { "\(path)/\($0)" }
    }
}
#endif
