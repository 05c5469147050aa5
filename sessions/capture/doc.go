// Package capture decodes captured PowerShell Remoting Protocol traffic
// into complete PSRP messages: the engine of `psmux debug decode` (SPEC
// S10) and of the conformance test against ../shared/corpus.
//
// Three input framings are understood (Format):
//
//   - OutOfProc: OutOfProc packet lines as pwsh -s / -sshs and
//     `psmux server --trace` write them (psrp-brief §1), optionally
//     prefixed "C> " (client to server) or "S> " (server to client).
//     Data payloads are reassembled per (direction, PSGuid, Stream);
//     other packets, blank lines and lines that do not start with '<' are
//     skipped; a line that starts with '<' but is no packet is reported
//     and skipped.
//   - Fragments: one base64 blob of concatenated PSRP fragment bytes per
//     line (psrp-brief §2), optionally prefixed "C> "/"S> "; one
//     reassembly stream per prefix.
//   - WSMan: WinRM SOAP envelopes (one or more, concatenated, possibly
//     with other text around them) carrying base64 PSRP in creationXml,
//     connectXml, connectResponseXml, rsp:Arguments and rsp:Stream
//     (MS-PSRP WSMan transport). Envelopes of non-PowerShell shells
//     (a ResourceURI without "/powershell", and the responses that
//     RelatesTo them) are skipped.
//
// Layering: input framing (this package) → psrp.ParsePacket → fragment
// bytes → psrp.Defragmenter → psrp.ParseMessage → clixml.Decode →
// Record, rendered by AppendJSON with clixml.AppendFaithfulJSON. Problems
// in the input are reported through Decoder.Warn and decoding goes on;
// only I/O errors, the total-input cap and errors returned by the emit
// callback stop it. Every length taken from the input is capped (lines,
// elements, messages, the whole WSMan input), and no input makes the
// decoder panic (FuzzDecode*).
//
// This is tooling, not a hot path: records own copies of their bytes, and
// the WSMan framing is scanned with encoding/xml.
package capture
