package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// parseFlags parses a command's args with fs. -h, -help or --help (before
// any "--") prints the command's usage and flags on stdout and runs
// nothing (exit 0); an unknown flag, or more than maxArgs arguments
// (maxArgs < 0: any number), prints the usage on stderr (exit 2). ok
// reports whether the command goes on.
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int, stdout io.Writer) (code int, ok bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK, false
		}
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage, false
	}
	if maxArgs >= 0 && fs.NArg() > maxArgs {
		fmt.Fprintf(fs.Output(), "psmux %s: unexpected argument %q\n", fs.Name(), fs.Arg(maxArgs))
		fs.Usage()
		return exitUsage, false
	}
	return exitOK, true
}

// nearest returns the known command closest to s (edit distance at most
// 2, or s a prefix of it), "" when none is.
func nearest(s string) string {
	best, bestD := "", 3
	var names []string
	for _, c := range cliCommands {
		for _, n := range c.names {
			if !strings.HasPrefix(n, "-") {
				names = append(names, n)
			}
		}
	}
	for _, c := range names {
		if d := editDistance(s, c); d < bestD || (d == bestD && best == "") {
			best, bestD = c, d
		}
	}
	if best == "" {
		for _, c := range names {
			if len(s) >= 2 && strings.HasPrefix(c, s) {
				return c
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
