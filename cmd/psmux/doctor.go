package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// check is one line of the doctor's report.
type check struct {
	Name   string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// runDoctor checks, in order, what a session to DEST needs: the
// resolved destination, the TCP connect, the host key, authentication,
// the powershell subsystem and the PowerShell behind it. It stops at
// the first failure and says how to fix it.
func runDoctor(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf ssh.Flags
	sf.Register(fs)
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: psmux doctor ["+sshFlagsUsage+"] [--json] DEST")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, -1, stdout); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	if err := sf.Check(); err != nil {
		fmt.Fprintf(stderr, "psmux: doctor: %v\n", err)
		return exitUsage
	}
	dest := fs.Arg(0)
	var checks []check
	report := func(c check) {
		checks = append(checks, c)
		if *asJSON {
			return
		}
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(stdout, "%s %-10s %s\n", mark, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(stdout, "     %-10s %s\n", "fix:", c.Fix)
		}
	}
	code := doctor(dest, &sf, stdin, stderr, report)
	if *asJSON {
		b, _ := json.Marshal(struct {
			Dest   string  `json:"dest"`
			OK     bool    `json:"ok"`
			Checks []check `json:"checks"`
		}{dest, code == exitOK, checks})
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return code
}

func doctor(dest string, sf *ssh.Flags, stdin *os.File, stderr io.Writer, report func(check)) int {
	var notices []string
	d := newDialer(sf, stdin, stderr, false, func(msg string) { notices = append(notices, strings.TrimSpace(msg)) })
	defer d.close()
	cfg, err := d.resolve(dest)
	if err != nil {
		report(check{Name: "config", Detail: err.Error(), Fix: "check the -o options and the ssh_config file"})
		return exitUsage
	}
	via := ""
	if len(cfg.ProxyJump) > 0 {
		via = " via " + strings.Join(cfg.ProxyJump, ",")
	}
	report(check{Name: "config", OK: true, Detail: fmt.Sprintf("%s@%s%s (User, HostName and Port as ssh -G resolves them)", cfg.User, cfg.Addr(), via)})
	if sf.System() {
		report(check{Name: "client", OK: true, Detail: "--ssh-client=system: the ssh program does the connecting; run: " + strings.Join(ssh.SystemArgs("", dest, sf.Overrides(), sf.Spec()), " ")})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	c, release, err := d.pool.Client(ctx, cfg)
	if err != nil {
		var ue *ssh.UnreachableError
		var hk *ssh.HostKeyError
		var ae *ssh.AuthError
		switch {
		case errors.As(err, &ue):
			report(check{Name: "reach", Detail: mux.DescribeErr(err), Fix: "check HostName and Port (psmux doctor prints what they resolve to), the network, and that sshd runs on the host"})
		case errors.As(err, &hk):
			report(check{Name: "reach", OK: true, Detail: "TCP and SSH version exchange answered"})
			report(check{Name: "host key", Detail: mux.DescribeErr(err)})
		case errors.As(err, &ae):
			report(check{Name: "reach", OK: true, Detail: "TCP and SSH version exchange answered"})
			report(check{Name: "host key", OK: true, Detail: "matches known_hosts"})
			report(check{Name: "auth", Detail: mux.DescribeErr(err), Fix: "load a key into ssh-agent (ssh-add), name one with -i or IdentityFile, or run from a terminal so psmux can ask for the password"})
		default:
			report(check{Name: "reach", Detail: mux.DescribeErr(err)})
		}
		return exitConnect
	}
	defer release()
	report(check{Name: "reach", OK: true, Detail: fmt.Sprintf("%s answered in %s (%s)", cfg.Addr(), time.Since(start).Round(time.Millisecond), c.ServerVersion())})
	hkDetail := "matches known_hosts"
	for _, n := range notices {
		if strings.Contains(n, "Permanently added") {
			hkDetail = "was unknown and has been added: " + n
		}
	}
	if k := c.HostKey(); k != nil {
		hkDetail = fmt.Sprintf("%s %s %s", k.Type(), gossh.FingerprintSHA256(k), hkDetail)
	}
	report(check{Name: "host key", OK: true, Detail: hkDetail})
	report(check{Name: "auth", OK: true, Detail: c.AuthMethod() + " as " + cfg.User})

	spec := sf.Spec()
	ch, err := c.Open(ctx, spec, nil)
	if err != nil {
		var se *ssh.SubsystemError
		if errors.As(err, &se) && spec.Exec == "" {
			report(check{Name: "subsystem", Detail: fmt.Sprintf("the server refused the %q subsystem (OpenSSH: \"subsystem request failed on channel 0\")", spec.Subsystem),
				Fix: ssh.SubsystemFix})
		} else {
			report(check{Name: "subsystem", Detail: mux.DescribeErr(err)})
		}
		return exitConnect
	}
	defer ch.Close()
	report(check{Name: "subsystem", OK: true, Detail: spec.String() + " started"})

	var noise []string
	conn, err := sessions.Open(ctx, ch, sessions.Options{Diag: func(k sessions.DiagKind, text string) {
		if len(noise) < 5 {
			noise = append(noise, text)
		}
	}})
	if err != nil {
		detail := mux.DescribeErr(err)
		if len(noise) > 0 {
			detail += "; the remote side said: " + strings.Join(noise, " / ")
		}
		report(check{Name: "pwsh", Detail: detail,
			Fix: "the subsystem must run pwsh with -sshs (PowerShell 7), e.g. \"Subsystem powershell /usr/bin/pwsh -sshs -NoLogo\"; Windows PowerShell 5.1 cannot be a subsystem"})
		return exitConnect
	}
	version := conn.PSVersion()
	detail := fmt.Sprintf("PowerShell %s, remoting protocol %s", version, conn.Negotiated())
	if len(noise) > 0 {
		detail += fmt.Sprintf(" (remote noise before the first packet, shown and ignored: %q)", noise[0])
	}
	report(check{Name: "pwsh", OK: true, Detail: detail})
	_ = conn.Close(ctx)
	return exitOK
}
