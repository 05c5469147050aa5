// Package journal keeps a session's output log on disk, so that what a
// session printed survives the server (SPEC S7, issue 14): a directory
// of append-only segment files, each record checksummed, written in
// sequence order by the session and read back when the server restores
// the session after kill-server, kill -9 or a reboot.
//
// A record is a 16-byte header — the length of its data, a CRC-32C of
// its sequence number and data, and its sequence number, all big-endian
// — followed by the data. Segment files are named after the sequence
// number of their first record and are rotated at SegmentSize; the
// oldest are removed when the journal holds more than its limit. Open
// reads every segment in order and stops at the first record that is
// torn (a short header or body after a crash), corrupt (its checksum
// does not match), implausible (a length past MaxRecord) or out of
// order: the file is truncated there, later segments are removed, and
// the cut is reported; every record before it is served, none after it
// is misread.
//
// The journal follows a session's output log (outlog.Log) and is its
// store: its writer goroutine takes what was appended since it last
// looked (at the latest when a batch of 1024 events waits), writes it
// with one write(2) from buffers it shares with the other journals'
// writers (a pool: an idle journal holds none), and tells the log (Keep); the
// log then keeps only a tail in memory and reads older events back
// through Load, which finds a record from an index mark every 1024
// records or from where the last Load stopped. Open returns what a
// journal holds as spans of history for the restored log.
//
// Durability: the writer writes an event to the file (the page cache,
// which a killed process cannot lose) at the latest Linger (5 ms) after
// it was appended, and at once when a client is about to be shown it
// (the session's outlog.Log.WaitKept), so whatever a client saw is on
// disk. A segment is fsynced when it is rotated (in the background,
// while the writer goes on; it waits only when MaxSyncing rotated
// segments, 64 MiB, are still being synced) and when the journal is
// closed; an operating-system crash can lose what was written since.
package journal
