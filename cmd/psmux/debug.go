package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/psmux/psmux/sessions/capture"
)

const debugUsage = `usage: psmux debug decode [--format outofproc|fragments|wsman]

Reads captured PSRP traffic on stdin and prints one JSON object per
complete message (SPEC S10). Formats:
  outofproc  OutOfProc packet lines, optionally prefixed "C> " / "S> " (default)
  fragments  one base64 blob of PSRP fragments per line, optionally prefixed
  wsman      WinRM SOAP envelopes (creationXml, rsp:Arguments, rsp:Stream, …)
Problems in the input are reported on stderr and skipped; the exit status
is then 1.
`

// runDebug runs `psmux debug …` and returns the exit status.
func runDebug(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, debugUsage)
		return exitUsage
	}
	switch args[0] {
	case "decode":
		return runDebugDecode(args[1:], stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, debugUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "psmux: unknown debug command: %s\n%s", args[0], debugUsage)
	return exitUsage
}

func runDebugDecode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	format := capture.OutOfProc
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, value, hasValue := strings.Cut(arg, "=")
		switch name {
		case "-h", "--help", "-help":
			fmt.Fprint(stdout, debugUsage)
			return exitOK
		case "--format", "-format", "-f":
			if !hasValue {
				if i+1 >= len(args) {
					fmt.Fprintf(stderr, "psmux: %s needs an argument\n%s", name, debugUsage)
					return exitUsage
				}
				i++
				value = args[i]
			}
			f, err := capture.ParseFormat(value)
			if err != nil {
				fmt.Fprintf(stderr, "psmux: unknown format: %s (expected outofproc, fragments or wsman)\n", value)
				return exitUsage
			}
			format = f
		default:
			if strings.HasPrefix(arg, "-") {
				fmt.Fprintf(stderr, "psmux: unknown flag: %s\n%s", arg, debugUsage)
			} else {
				fmt.Fprintf(stderr, "psmux: unexpected argument: %s\n%s", arg, debugUsage)
			}
			return exitUsage
		}
	}

	w := bufio.NewWriterSize(stdout, 64<<10)
	problems := 0
	d := capture.Decoder{
		Format: format,
		Warn: func(err error) {
			problems++
			var ie *capture.InputError
			if errors.As(err, &ie) {
				if ie.Line > 0 {
					fmt.Fprintf(stderr, "psmux: line %d: %v\n", ie.Line, ie.Err)
				} else {
					fmt.Fprintf(stderr, "psmux: %v\n", ie.Err)
				}
				return
			}
			fmt.Fprintf(stderr, "psmux: %v\n", err)
		},
	}
	var buf []byte
	err := d.Decode(stdin, func(r capture.Record) error {
		buf = capture.AppendJSON(buf[:0], r)
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
		// Flush per record so that a live trace (tail -f) shows up at once.
		return w.Flush()
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "psmux: debug decode: %v\n", err)
		return exitErrors
	}
	if problems > 0 {
		return exitErrors
	}
	return exitOK
}
