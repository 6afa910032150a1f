package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SyntaxError is a service config document that is not JSON (see ParseServiceConfig): where
// the mistake is, and encoding/json's words for it, which errors.As reaches too (a
// *json.SyntaxError):
//
//	sc.json: not a gRPC service config: invalid JSON at line 3, column 16 (byte offset 52): invalid character 's' after object key:value pair, in `  "timeout": 1s,`
type SyntaxError struct {
	// File is the file's name as given to ParseServiceConfig.
	File string
	// Line and Column are where the mistake is, 1-based; Column counts bytes from the start
	// of the line. At the end of the document, they are where it ends.
	Line, Column int
	// Offset is the number of bytes before the mistake.
	Offset int64
	// Excerpt is the mistake's line, at most maxExcerpt bytes around the column ("..." marks a
	// cut); empty when the line is.
	Excerpt string
	// Err is encoding/json's error.
	Err error
}

// maxExcerpt bounds the text of a document a SyntaxError quotes.
const maxExcerpt = 40

func (e *SyntaxError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	b.WriteString("not a gRPC service config: ")
	at := "line " + strconv.Itoa(e.Line) + ", column " + strconv.Itoa(e.Column) + " (byte offset " + strconv.FormatInt(e.Offset, 10) + ")"
	var se *json.SyntaxError
	if errors.As(e.Err, &se) && se.Error() == "unexpected end of JSON input" {
		b.WriteString("unexpected end of the document at " + at)
	} else {
		b.WriteString("invalid JSON at " + at + ": " + e.Err.Error())
	}
	if e.Excerpt != "" {
		b.WriteString(", in `" + e.Excerpt + "`")
	}
	return b.String()
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// syntaxErrorAt returns err, a syntax error of encoding/json reading data, as a *SyntaxError
// of file, or nil when it is none.
func syntaxErrorAt(file string, data []byte, err error) *SyntaxError {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return nil
	}
	// Offset counts the bytes read: the offending character is the last of them, the end of
	// the document the first past them.
	pos := min(max(se.Offset, 0), int64(len(data)))
	if strings.HasPrefix(se.Error(), "invalid character") && pos > 0 {
		pos--
	}
	start := bytes.LastIndexByte(data[:pos], '\n') + 1
	end := len(data)
	if i := bytes.IndexByte(data[pos:], '\n'); i >= 0 {
		end = int(pos) + i
	}
	return &SyntaxError{
		File:    file,
		Line:    bytes.Count(data[:pos], []byte("\n")) + 1,
		Column:  int(pos) - start + 1,
		Offset:  pos,
		Excerpt: excerpt(data[start:end], int(pos)-start),
		Err:     err,
	}
}

// excerpt returns line around its byte col (0-based), at most maxExcerpt bytes of it, with
// what is cut marked "...", and a control character or a broken UTF-8 sequence escaped.
func excerpt(line []byte, col int) string {
	line = bytes.TrimRight(line, "\r")
	from, to := 0, len(line)
	if to > maxExcerpt {
		from = min(max(col-maxExcerpt/2, 0), to-maxExcerpt)
		to = from + maxExcerpt
		// Whole characters only.
		for from < to && !utf8.RuneStart(line[from]) {
			from++
		}
		for to > from && to < len(line) && !utf8.RuneStart(line[to]) {
			to--
		}
	}
	var b strings.Builder
	if from > 0 {
		b.WriteString("...")
	}
	s := strings.TrimSpace(string(line[from:to]))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || !unicode.IsGraphic(r) {
			q := strconv.QuoteToGraphic(s[i : i+n])
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	if to < len(line) {
		b.WriteString("...")
	}
	if b.Len() == 0 || b.String() == "......" {
		return ""
	}
	return b.String()
}
