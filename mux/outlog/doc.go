// Package outlog is a session's output log (SPEC S7): every event a
// session produces gets a sequence number and is kept, within a memory
// budget, so that clients can detach, re-attach and replay from the
// last sequence number they acknowledged, and `psmux capture` can read
// what is still retained.
//
// It implements:
//   - sequence numbers 1, 2, 3 … per log, never reused (Append);
//   - a byte budget (Options.Budget, default 64 MiB) counted as the
//     length of each event's data plus EventOverhead;
//   - the two policies of WinRM's OutputBufferingMode: Block (the
//     default; when the budget is full and nothing acknowledged can be
//     evicted, Append waits, so the session stops reading its channel
//     and the remote command is back-pressured — nothing is lost) and
//     Drop (the oldest events are evicted whether or not a client has
//     seen them; what was evicted unseen is counted in Stats.Dropped);
//   - replay by sequence number (Read), reporting how many requested
//     events had already been evicted, and following live output
//     (Wait), for the "client killed mid-replay" case of
//     bench-reliability R7 and the absent or slow reader of R5.
//
// With a store (UseStore: the session's log on disk, package journal),
// the budget and the policies keep their meaning over every retained
// event, but memory holds only a tail of the events the store has
// taken (Keep): older ones are read back from the store by Read, and an
// event leaves memory only once the store has it; a store more than
// MaxBehind behind holds Append back. A store that fails leaves the log
// in memory alone.
//
// The data of an event is opaque: the caller encodes it and must not
// modify it after Append. The log holds its own reference and hands the
// same slice to readers, so nothing is copied on the way in or out.
//
// Events live in fixed-size segments of 1024 slots kept in a ring, so
// appending and evicting are O(1) and a steady stream allocates nothing
// once the ring has reached its working size. There is one mutex; a
// waiter blocks on a channel that is made only when someone waits and
// closed by the next append (for readers) or acknowledgement (for a
// blocked writer), so Wait and Append honour their context without
// spinning and without leaving goroutines behind.
//
// A Log is safe for concurrent use: one writer (the session's owner)
// and any number of readers (attached clients, capture).
package outlog
