package workers

import (
	"encoding/binary"
	"testing"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// fakeExtraRoutes are more answers of the fake worker, by path.
var fakeExtraRoutes = map[string]func(fs *fakeSlot, id uint32){
	// Two interim heads (early hints), then a whole response.
	"/hints": func(fs *fakeSlot, id uint32) {
		fs.frame(wire.Interim, id, marshalHead("103 Early Hints", "Link", "</a.css>", "Link", "</b.js>"))
		fs.frame(wire.Interim, id, marshalHead("103 Early Hints", "Link", "</c.woff2>"))
		fs.whole(id, []byte("ok"))
	},
	// A start with trailers (declared), a body, the trailers.
	"/trailers": func(fs *fakeSlot, id uint32) {
		p := marshalHead("200 OK")
		p = binary.LittleEndian.AppendUint16(p, 5)
		p = append(p, "x-sum"...)
		fs.frame(wire.StartTrailers, id, append(p, "first "...))
		fs.frame(wire.Body, id, []byte("second"))
		fs.frame(wire.Trailers, id, marshalHead("", "x-sum", "abc", "x-n", "2"))
	},
	// Trailers announced, but the response ends with E (a client gone).
	"/no-trailers": func(fs *fakeSlot, id uint32) {
		p := binary.LittleEndian.AppendUint16(marshalHead("200 OK"), 0)
		fs.frame(wire.StartTrailers, id, append(p, "body"...))
		fs.frame(wire.End, id, nil)
	},
}

// marshalHead is marshal.dumps((status, [(name, value), ...]), 2).
func marshalHead(status string, kv ...string) []byte {
	str := func(b []byte, s string) []byte {
		b = append(b, 'u')
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		return append(b, s...)
	}
	b := []byte{'(', 2, 0, 0, 0}
	b = str(b, status)
	b = append(b, '[')
	b = binary.LittleEndian.AppendUint32(b, uint32(len(kv)/2))
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, '(', 2, 0, 0, 0)
		b = str(b, kv[i])
		b = str(b, kv[i+1])
	}
	return b
}

// TestInterimResponses: Head returns each interim head in turn, then the
// final one; the slot serves on.
func TestInterimResponses(t *testing.T) {
	fp := startFakePool(t, Options{Workers: 1, Threads: 1})
	x, resp, err := send(t, fp.Pool, "/hints")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var links []string
	header := func(name, value string) { links = append(links, name+": "+value) }
	if !resp.Interim || resp.Status != "103 Early Hints" {
		t.Fatalf("first head: %+v, want an interim 103", resp)
	}
	for _, want := range []string{"Link: </c.woff2>", ""} {
		resp, err = x.Head(header)
		if err != nil {
			t.Fatal(err)
		}
		if want == "" {
			if resp.Interim || resp.Status != "200 OK" || string(resp.Body) != "ok" || !resp.Complete {
				t.Fatalf("final head: %+v", resp)
			}
			break
		}
		if !resp.Interim || len(links) != 1 || links[0] != want {
			t.Fatalf("second head: %+v, fields %q", resp, links)
		}
		links = nil
	}
	x.Close()
	// The slot is free for the next request; an interim head whose
	// exchange is closed unread is drained off it.
	x, resp, err = send(t, fp.Pool, "/hints")
	if err != nil || !resp.Interim {
		t.Fatalf("%+v %v", resp, err)
	}
	x.Close()
	x, resp, err = send(t, fp.Pool, "/plain")
	if err != nil || string(resp.Body) != "ok /plain" {
		t.Fatalf("after an abandoned interim head: %+v %v", resp, err)
	}
	x.Close()
}

// TestTrailersFrames: a start with trailers gives Response.Trailers and the
// declared names, the body, then the trailers after io.EOF; an E in place
// of the trailers gives none.
func TestTrailersFrames(t *testing.T) {
	fp := startFakePool(t, Options{Workers: 1, Threads: 1})
	x, resp, err := send(t, fp.Pool, "/trailers")
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Trailers || resp.TrailerNames != "x-sum" {
		t.Fatalf("head: %+v, want trailers declared as x-sum", resp)
	}
	body, err := readAll(x, resp)
	if err != nil || string(body) != "first second" {
		t.Fatalf("body %q %v", body, err)
	}
	var got []string
	if err := x.Trailers(func(name, value string) { got = append(got, name+"="+value) }); err != nil ||
		len(got) != 2 || got[0] != "x-sum=abc" || got[1] != "x-n=2" {
		t.Fatalf("trailers %q %v", got, err)
	}
	x.Close()

	x, resp, err = send(t, fp.Pool, "/no-trailers")
	if err != nil || !resp.Trailers || resp.TrailerNames != "" {
		t.Fatalf("%+v %v", resp, err)
	}
	if body, err := readAll(x, resp); err != nil || string(body) != "body" {
		t.Fatalf("body %q %v", body, err)
	}
	n := 0
	if err := x.Trailers(func(string, string) { n++ }); err != nil || n != 0 {
		t.Fatalf("trailers of a response that ended without them: %d %v", n, err)
	}
	x.Close()
}
