package ssh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/pkg/sftp"
)

// SFTP opens an SFTP session on the connection (the "sftp" subsystem),
// beside whatever PowerShell channels it carries.
func (c *Client) SFTP() (*sftp.Client, error) {
	s, err := sftp.NewClient(c.conn, sftp.UseConcurrentWrites(true), sftp.UseConcurrentReads(true))
	if err != nil {
		if cerr := c.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("ssh: %s: sftp: %w", c.cfg.Dest, err)
	}
	return s, nil
}

// Progress is told how many bytes of how many have been copied.
type Progress func(done, total int64)

// progressWriter counts bytes for a Progress callback.
type progressWriter struct {
	w     io.Writer
	done  int64
	total int64
	fn    Progress
	ctx   context.Context
}

func (p *progressWriter) Write(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
	return n, err
}

func tempName(final string, join func(...string) string, dir func(string) string, base func(string) string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return join(dir(final), "."+base(final)+".psmux-"+hex.EncodeToString(b[:])+".part")
}

// Upload copies the local file src to dst on the host. It writes a
// temporary file beside dst and renames it into place, so dst is never
// seen half-written. A dst that is a directory receives src's base name.
func Upload(ctx context.Context, s *sftp.Client, src, dst string, progress Progress) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, fmt.Errorf("ssh: upload: %w", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return 0, fmt.Errorf("ssh: upload: %w", err)
	}
	if st.IsDir() {
		return 0, fmt.Errorf("ssh: upload: %s is a directory (copying directories is not supported)", src)
	}
	if fi, err := s.Stat(dst); err == nil && fi.IsDir() {
		dst = path.Join(dst, filepath.Base(src))
	}
	tmp := tempName(dst, path.Join, path.Dir, path.Base)
	out, err := s.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return 0, fmt.Errorf("ssh: upload: create %s: %w", tmp, err)
	}
	pw := &progressWriter{w: out, total: st.Size(), fn: progress, ctx: ctx}
	n, err := io.Copy(pw, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_ = s.Chmod(tmp, st.Mode().Perm())
		if err = s.PosixRename(tmp, dst); err != nil {
			_ = s.Remove(dst)
			err = s.Rename(tmp, dst)
		}
	}
	if err != nil {
		_ = s.Remove(tmp)
		return n, fmt.Errorf("ssh: upload %s to %s: %w", src, dst, err)
	}
	return n, nil
}

// Download copies src on the host to the local dst, through a temporary
// file beside dst renamed into place.
func Download(ctx context.Context, s *sftp.Client, src, dst string, progress Progress) (int64, error) {
	in, err := s.Open(src)
	if err != nil {
		return 0, fmt.Errorf("ssh: download: %s: %w", src, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return 0, fmt.Errorf("ssh: download: %s: %w", src, err)
	}
	if st.IsDir() {
		return 0, fmt.Errorf("ssh: download: %s is a directory (copying directories is not supported)", src)
	}
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		dst = filepath.Join(dst, path.Base(src))
	}
	tmp := tempName(dst, filepath.Join, filepath.Dir, filepath.Base)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm()|0o200)
	if err != nil {
		return 0, fmt.Errorf("ssh: download: %w", err)
	}
	pw := &progressWriter{w: out, total: st.Size(), fn: progress, ctx: ctx}
	n, err := in.WriteTo(pw)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
		if errors.Is(err, context.Canceled) {
			return n, err
		}
		return n, fmt.Errorf("ssh: download %s to %s: %w", src, dst, err)
	}
	return n, nil
}
