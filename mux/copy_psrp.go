package mux

import (
	"context"
	"encoding/base64"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// Copying over the session itself, as PowerShell's Copy-Item
// -ToSession/-FromSession does: for a host without an sftp subsystem,
// and for sessions with no SSH connection of psmux's own (local ones).
// The file goes in base64 chunks, each one pipeline, while the copy
// holds the session's pipeline slot; an upload is written under a
// temporary name and renamed when whole, as the SFTP path does.

// psrpChunk is how many bytes of the file one pipeline carries.
const psrpChunk = 1 << 20

// The scripts get the file's name and data as parameters (a <BA> byte
// array: nothing for pwsh to parse); relative paths are taken from the
// session's current location, as Copy-Item takes them.
const (
	psResolve   = "$ErrorActionPreference = 'Stop'\n$Path = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)\n"
	psCreate    = "param($Path)\n" + psResolve + "[System.IO.File]::WriteAllBytes($Path, [byte[]]@())"
	psAppend    = "param($Path, [byte[]]$Data)\n" + psResolve + "$f = [System.IO.File]::Open($Path, 'Append')\ntry { $f.Write($Data, 0, $Data.Length) } finally { $f.Dispose() }"
	psMove      = "param($Path, $To)\n" + psResolve + "[System.IO.File]::Move($Path, $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($To), $true)"
	psRemove    = "param($Path)\n" + psResolve + "Remove-Item -LiteralPath $Path -Force -ErrorAction Ignore"
	psLength    = "param($Path)\n" + psResolve + "(Get-Item -LiteralPath $Path -Force).Length"
	psTarget    = "param($Path, $Name)\n" + psResolve + "if (Test-Path -LiteralPath $Path -PathType Container) { Join-Path $Path $Name } else { $Path }"
	psReadChunk = "param($Path, [long]$Offset, [int]$Count)\n" + psResolve + "$f = [System.IO.File]::OpenRead($Path)\n" +
		"try { $null = $f.Seek($Offset, 'Begin'); $b = [byte[]]::new($Count); $r = $f.Read($b, 0, $Count); if ($r -lt $Count) { [Array]::Resize([ref]$b, $r) }; ,$b } finally { $f.Dispose() }"
)

func param(name string, v clixml.Value) psrp.Parameter { return psrp.Parameter{Name: name, Value: v} }

func pathParam(p string) psrp.Parameter { return param("Path", clixml.Str(p)) }

func (s *Session) copyOverPSRP(ctx context.Context, a CopyArgs) (int64, error) {
	conn, release, err := s.quietSlot(ctx, "Copy-Item")
	if err != nil {
		return 0, err
	}
	defer release()
	// the copy is the session's running command while it lasts: prompts
	// say busy at once and the idle close leaves the session alone
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running--
		s.lastActive = time.Now()
		s.mu.Unlock()
	}()
	run := func(script string, args ...psrp.Parameter) ([]clixml.Value, error) {
		rctx := ctx
		if script == psRemove { // cleaning up after a stop or a failure
			var cancel context.CancelFunc
			rctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), reportPatience)
			defer cancel()
		}
		p := psrp.ScriptPipeline(script, false)
		p.Cmds[0].Args = args
		return quietInvoke(rctx, conn, p, nil)
	}
	if a.Upload {
		return uploadOverPSRP(a, run)
	}
	return downloadOverPSRP(a, run)
}

type psRunner func(script string, args ...psrp.Parameter) ([]clixml.Value, error)

func uploadOverPSRP(a CopyArgs, run psRunner) (int64, error) {
	f, err := os.Open(a.Local)
	if err != nil {
		return 0, copyErr(err)
	}
	defer f.Close()
	// a directory receives the file under its own name, as cp and
	// Copy-Item do
	out, err := run(psTarget, pathParam(a.Remote), param("Name", clixml.Str(filepath.Base(a.Local))))
	if err != nil {
		return 0, err
	}
	if len(out) != 1 || out[0].Str() == "" {
		return 0, errorf(CodeInternal, "the destination %s: %d values, want its path", a.Remote, len(out))
	}
	remote := out[0].Str()
	part := remote + ".psmux-part"
	if _, err := run(psCreate, pathParam(part)); err != nil {
		return 0, err
	}
	buf := make([]byte, psrpChunk)
	var n int64
	for {
		k, rerr := io.ReadFull(f, buf)
		if k > 0 {
			data := clixml.Value{Kind: clixml.Bytes, Text: base64.StdEncoding.EncodeToString(buf[:k])}
			if _, err := run(psAppend, pathParam(part), param("Data", data)); err != nil {
				_, _ = run(psRemove, pathParam(part))
				return n, err
			}
			n += int64(k)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			_, _ = run(psRemove, pathParam(part))
			return n, errorf(CodeInternal, "%s", DescribeErr(rerr))
		}
	}
	if _, err := run(psMove, pathParam(part), param("To", clixml.Str(remote))); err != nil {
		_, _ = run(psRemove, pathParam(part))
		return n, err
	}
	return n, nil
}

func downloadOverPSRP(a CopyArgs, run psRunner) (int64, error) {
	out, err := run(psLength, pathParam(a.Remote))
	if err != nil {
		return 0, err
	}
	if len(out) != 1 {
		return 0, errorf(CodeInternal, "the size of %s: %d values, want one", a.Remote, len(out))
	}
	size, err := strconv.ParseInt(out[0].Str(), 10, 64)
	if err != nil {
		return 0, errorf(CodeInternal, "the size of %s: %q is no number", a.Remote, out[0].Str())
	}
	local := a.Local
	if st, err := os.Stat(local); err == nil && st.IsDir() { // into the directory, under the file's name
		local = filepath.Join(local, path.Base(strings.ReplaceAll(a.Remote, `\`, "/")))
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), "."+filepath.Base(local)+".psmux-part-*")
	if err != nil {
		return 0, errorf(CodeUsage, "%s", DescribeErr(err))
	}
	defer os.Remove(tmp.Name()) // gone once renamed
	defer tmp.Close()
	var n int64
	for n < size {
		k := min(size-n, psrpChunk)
		out, err := run(psReadChunk, pathParam(a.Remote), param("Offset", clixml.Value{Kind: clixml.Int64, Text: strconv.FormatInt(n, 10)}),
			param("Count", clixml.Value{Kind: clixml.Int32, Text: strconv.FormatInt(k, 10)}))
		if err != nil {
			return n, err
		}
		if len(out) != 1 {
			return n, errorf(CodeInternal, "chunk at %d of %s: %d values, want one byte array", n, a.Remote, len(out))
		}
		b, err := out[0].Bytes()
		if err != nil {
			return n, errorf(CodeInternal, "chunk at %d of %s: %v", n, a.Remote, err)
		}
		if len(b) == 0 {
			return n, errorf(CodeInternal, "%s ended at %d bytes, not %d", a.Remote, n, size)
		}
		if _, err := tmp.Write(b); err != nil {
			return n, errorf(CodeInternal, "%s", DescribeErr(err))
		}
		n += int64(len(b))
	}
	if err := tmp.Close(); err != nil {
		return n, errorf(CodeInternal, "%s", DescribeErr(err))
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		return n, copyErr(err)
	}
	return n, nil
}
