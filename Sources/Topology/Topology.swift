/// The topology of an agentic cluster: which agents run, how they are wired, how requests enter.
///
/// A topology lives in a YAML file under `topology/`. This module
/// - models it as plain values (``TopologySpec``, ``AgentSpec``, ``Edge``, ``GatewaySpec``, ``RewardsSpec``),
/// - parses and checks it against a ``KindCatalogue`` with ``TopologyValidator``, reporting every
///   problem at once with its file, line, column and field (``ValidationIssue``),
/// - answers graph questions (``TopologyGraph``),
/// - writes it back atomically, keeping every earlier epoch (``TopologyStore``),
/// - and compares two versions (``TopologyDiff``).
///
/// The file is the contract between the coordinator, which rewrites it, and everyone else, who reads it;
/// nothing starts from a file that does not validate.
public enum Topology {
    /// The file name of a history entry for `epoch`, e.g. `epoch-4.yaml`.
    public static func historyFileName(epoch: Int) -> String { "epoch-\(epoch).yaml" }
}
