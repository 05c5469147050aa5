package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/ssh"
	"golang.org/x/term"
)

// remotePath splits "DEST:path" (scp's syntax). A path with a slash
// before the first colon is local, as with scp.
func remotePath(s string) (dest, path string, ok bool) {
	if strings.HasPrefix(s, "[") { // [v6addr]:path
		if i := strings.Index(s, "]:"); i > 0 {
			return s[:i+1], s[i+2:], true
		}
		return "", s, false
	}
	i := strings.IndexByte(s, ':')
	if i <= 0 || strings.ContainsRune(s[:i], '/') {
		return "", s, false
	}
	return s[:i], s[i+1:], true
}

// runCp copies one file to or from a host over SFTP on the connection
// sessions to that host use.
func runCp(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf ssh.Flags
	sf.Register(fs)
	quiet := fs.Bool("q", false, "no progress")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: psmux cp ["+sshFlagsUsage+"] [-q] SRC DST   (one of them DEST:path)")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, -1, stdout); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitUsage
	}
	src, dst := fs.Arg(0), fs.Arg(1)
	sDest, sPath, sRemote := remotePath(src)
	dDest, dPath, dRemote := remotePath(dst)
	if sRemote == dRemote {
		fmt.Fprintln(stderr, "psmux: cp: exactly one of SRC and DST must be DEST:path")
		return exitUsage
	}
	dest, rpath := sDest, sPath
	if dRemote {
		dest, rpath = dDest, dPath
	}
	if rpath == "" {
		rpath = "."
	}
	if code, ok := cpViaServer(g, dest, sPath, dPath, rpath, dRemote, stdin, stderr); ok {
		return code
	}
	if sf.System() {
		fmt.Fprintln(stderr, "psmux: cp: --ssh-client=system is not supported for cp; use scp or sftp")
		return exitUsage
	}
	d := newDialer(&sf, stdin, stderr, false, func(msg string) { fmt.Fprintln(stderr, strings.TrimRight(msg, "\n")) })
	defer d.close()
	cfg, err := d.resolve(dest)
	if err != nil {
		fmt.Fprintf(stderr, "psmux: cp: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			cancel()
		}
	}()
	c, release, err := d.pool.Client(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "psmux: %s\n", mux.DescribeErr(err))
		return exitConnect
	}
	defer release()
	s, err := c.SFTP()
	if err != nil {
		fmt.Fprintf(stderr, "psmux: %s\n", mux.DescribeErr(err))
		return exitConnect
	}
	defer s.Close()

	var progress ssh.Progress
	if f, ok := stderr.(*os.File); ok && !*quiet && term.IsTerminal(int(f.Fd())) {
		progress = progressBar(stderr, filepath.Base(sPath))
	}
	start := time.Now()
	var n int64
	if dRemote {
		n, err = ssh.Upload(ctx, s, sPath, rpath, progress)
	} else {
		n, err = ssh.Download(ctx, s, rpath, dPath, progress)
	}
	if progress != nil {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "psmux: cp: interrupted; the destination was left untouched")
			return exitStopped
		}
		fmt.Fprintf(stderr, "psmux: cp: %s\n", mux.DescribeErr(err))
		if c.Err() != nil {
			return exitConnect
		}
		return exitErrors
	}
	if progress != nil {
		took := time.Since(start)
		fmt.Fprintf(stderr, "%s: %s in %s (%s/s)\n", filepath.Base(sPath), sizeText(n), took.Round(time.Millisecond), sizeText(int64(float64(n)/max(took.Seconds(), 1e-3))))
	}
	return exitOK
}

// progressBar redraws one status line at most ten times a second.
func progressBar(w io.Writer, name string) ssh.Progress {
	start := time.Now()
	var last time.Time
	return func(done, total int64) {
		now := time.Now()
		if now.Sub(last) < 100*time.Millisecond && done != total {
			return
		}
		last = now
		pct := 100
		if total > 0 {
			pct = int(done * 100 / total)
		}
		rate := float64(done) / max(now.Sub(start).Seconds(), 1e-3)
		fmt.Fprintf(w, "\r\x1b[K%s %3d%% %s %s/s", name, pct, sizeText(done), sizeText(int64(rate)))
	}
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// cpViaServer copies over a server session's connection when the name
// before the colon is a session of a running server (S:path).
func cpViaServer(g global, session, sPath, dPath, rpath string, upload bool, stdin *os.File, stderr io.Writer) (int, bool) {
	ctx := context.Background()
	c, err := connect(ctx, g, false, stdin)
	if err != nil {
		return 0, false
	}
	defer c.Close()
	if _, err := c.Call(ctx, "has", mux.TargetArgs{Target: session}, nil); err != nil {
		return 0, false
	}
	local := dPath
	if upload {
		local = sPath
	}
	abs, err := filepath.Abs(local)
	if err != nil {
		fmt.Fprintf(stderr, "psmux: cp: %v\n", err)
		return exitUsage, true
	}
	if _, err := c.Call(ctx, "cp", mux.CopyArgs{Target: session, Local: abs, Remote: rpath, Upload: upload}, nil); err != nil {
		return muxError(stderr, err), true
	}
	return exitOK, true
}
