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
// Durability: Append queues a record; the journal's writer goroutine
// writes queued records to the file (the page cache, which a killed
// process cannot lose) in batches, at the latest FlushDelay (100 ms)
// after they were queued, and at once when Sync asks: the session calls
// Sync before any client is shown an event, so whatever a client saw is
// on disk. A segment is fsynced when it is rotated and when the journal
// is closed; an operating-system crash can lose what was written since.
package journal
