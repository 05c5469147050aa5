package pwshsim

import "io"

// Pipe is a client's end of a Server run in this process over pipes: a
// transport with no real IO, so tests can run it under testing/synctest.
type Pipe struct {
	r    *io.PipeReader
	w    *io.PipeWriter
	done chan struct{}
}

// StartPipe serves one session with opts on a new Pipe.
func StartPipe(opts ServerOptions) *Pipe {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &Pipe{r: outR, w: inW, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		NewServer(inR, outW, io.Discard, opts).Serve()
		outW.Close()
		inR.Close()
	}()
	return p
}

func (p *Pipe) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *Pipe) Write(b []byte) (int, error) { return p.w.Write(b) }

// CloseWrite ends the server's input.
func (p *Pipe) CloseWrite() error { return p.w.Close() }

// Close ends both directions and waits for the server to return.
func (p *Pipe) Close() error {
	p.w.Close()
	p.r.Close()
	<-p.done
	return nil
}
