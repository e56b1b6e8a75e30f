/// # Transport
///
/// agentic's processes talk over NNG: req/rep for decisions and control, pub/sub for
/// facts everyone may hear (topology epochs, stored feedback, heartbeats).
///
/// - ``Requester`` keeps many requests in flight on one socket (one NNG context each).
/// - ``Replier`` serves many requests at once through NNG contexts.
/// - ``Publisher`` / ``Subscriber`` fan out messages filtered by topic prefix.
/// - ``Envelope`` is the versioned binary frame every message travels in.
/// - ``Message`` owns an NNG body, so payloads cross into NNG without copies.
/// - ``TransportError`` is the one error type; `.timedOut` and `.closed` are distinct codes.
///
/// NNG calls back on its own threads. Nothing here lets the last reference to an object
/// that owns an aio drop on such a thread, and every blocking call (`close`) is made by
/// the owner, never from a callback: see shared/NNG-NOTES.md for the deadlock this avoids.
public enum TransportModule {}
