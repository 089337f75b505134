package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/craftml/craft/dataset"
	"github.com/craftml/craft/model"
)

// printSums shows the model solving the first k held-out addition problems.
func printSums(out io.Writer, g *model.GPT, src dataset.Source, k int) {
	tok := src.Tokenizer()
	w := src.Width()
	x, y := make([]int32, w), make([]int32, w)
	fmt.Fprintln(out, "held-out sums (the model writes the sum reversed; shown the right way round):")
	for i := 0; i < min(k, src.Len(dataset.Val)); i++ {
		src.Sample(dataset.Val, i, x, y, nil)
		n := 0 // the prompt ends where the targets start
		for n < w && y[n] < 0 {
			n++
		}
		prompt := x[:n+1]
		digits := w + 1 - len(prompt)
		got := g.Generate(prompt, digits, model.Sampling{}, nil)
		want := append(append([]int32{}, x[:n+1]...), y[n:]...)
		mark := "ok"
		if tok.Decode(got) != tok.Decode(want) {
			mark = "WRONG, want " + reverse(tok.Decode(want[len(prompt):]))
		}
		fmt.Fprintf(out, "  %s%s  %s\n", tok.Decode(prompt), reverse(tok.Decode(got[len(prompt):])), mark)
	}
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	if t := strings.TrimLeft(string(r), "0"); t != "" {
		return t
	}
	return "0"
}
