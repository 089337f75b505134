package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
)

// maxClasses bounds a CSV label, so a typo cannot ask for a huge output layer.
const maxClasses = 1 << 16

// CSV is a classification table: each row holds numeric features then an
// integer label in [0, 65536). Rows go to Train or Val by a permutation
// seeded from Seed (Val gets ValFraction of them); each split keeps the
// file's row order. Features are kept raw: FeatureStats gives the Train
// mean and standard deviation for a model that standardises its inputs.
type CSV struct {
	width, classes int
	feats          [2][]float32 // (rows, width) per split
	labels         [2][]int32   // (rows) per split
	mean, std      []float32
}

// OpenCSV reads the table at path; header says its first line is a header
// to skip (its cells are not checked).
func OpenCSV(path string, header bool, valFraction float64, seed uint64) (*CSV, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open csv: %w", err)
	}
	defer f.Close()
	d, err := ReadCSV(f, path, header, valFraction, seed)
	if err != nil {
		return nil, fmt.Errorf("open csv: %w", err)
	}
	return d, nil
}

// ReadCSV reads a table from r; name is the file name errors report, as
// "name:line:column: ...".
func ReadCSV(r io.Reader, name string, header bool, valFraction float64, seed uint64) (*CSV, error) {
	if !(valFraction >= 0 && valFraction < 1) {
		return nil, fmt.Errorf("%w: ValFraction: %v is not in [0, 1)", ErrConfig, valFraction)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	var (
		feats  []float32
		labels []int32
		width  = -1
		first  = true
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, formatErr(name, pe.Line, pe.Column, "%v", pe.Err)
			}
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if first && header {
			first = false
			continue
		}
		first = false
		line, _ := cr.FieldPos(0)
		if width < 0 {
			if len(rec) < 2 {
				return nil, formatErr(name, line, 0, "%d fields; want features then a label", len(rec))
			}
			width = len(rec) - 1
		}
		if len(rec) != width+1 {
			return nil, formatErr(name, line, 0, "%d fields; want %d like the first row", len(rec), width+1)
		}
		for j, cell := range rec[:width] {
			v, err := strconv.ParseFloat(strings.TrimSpace(cell), 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				l, c := cr.FieldPos(j)
				return nil, formatErr(name, l, c, "feature %d: %q is not a finite number", j, cell)
			}
			feats = append(feats, float32(v))
		}
		cell := strings.TrimSpace(rec[width])
		v, err := strconv.Atoi(cell)
		if err != nil || v < 0 || v >= maxClasses {
			l, c := cr.FieldPos(width)
			return nil, formatErr(name, l, c, "label %q is not an integer in [0, %d)", cell, maxClasses)
		}
		labels = append(labels, int32(v))
	}
	if len(labels) == 0 {
		return nil, formatErr(name, 0, 0, "no data rows")
	}
	return NewCSV(feats, labels, width, valFraction, seed)
}

// NewCSV returns the classification source over rows of feats (rows, width)
// and labels (rows), split by valFraction and seed. It keeps no reference
// to feats or labels.
func NewCSV(feats []float32, labels []int32, width int, valFraction float64, seed uint64) (*CSV, error) {
	n := len(labels)
	if width < 1 || len(feats) != n*width {
		return nil, fmt.Errorf("%w: %d features for %d rows of width %d", ErrConfig, len(feats), n, width)
	}
	if !(valFraction >= 0 && valFraction < 1) {
		return nil, fmt.Errorf("%w: ValFraction: %v is not in [0, 1)", ErrConfig, valFraction)
	}
	nTrain, nVal := splitCount(n, valFraction)
	if nTrain < 1 {
		return nil, fmt.Errorf("%w: %d rows leave no train split", ErrConfig, n)
	}
	d := &CSV{width: width}
	for _, l := range labels {
		if l < 0 || l >= maxClasses {
			return nil, fmt.Errorf("%w: label %d is not in [0, %d)", ErrConfig, l, maxClasses)
		}
		d.classes = max(d.classes, int(l)+1)
	}
	perm := rand.New(rand.NewPCG(seed, 0x637376)).Perm(n) // "csv"
	rows := [2][]int{perm[nVal:], perm[:nVal]}
	for s, rs := range rows {
		slices.Sort(rs)
		d.feats[s] = make([]float32, 0, len(rs)*width)
		d.labels[s] = make([]int32, 0, len(rs))
		for _, r := range rs {
			d.feats[s] = append(d.feats[s], feats[r*width:(r+1)*width]...)
			d.labels[s] = append(d.labels[s], labels[r])
		}
	}
	d.mean, d.std = featureStats(d.feats[Train], width)
	return d, nil
}

// featureStats returns the mean and population standard deviation of each
// column of x (rows, width); a zero deviation is reported as 1.
func featureStats(x []float32, width int) (mean, std []float32) {
	rows := len(x) / width
	m := make([]float64, width)
	v := make([]float64, width)
	for r := range rows {
		for j, f := range x[r*width : (r+1)*width] {
			m[j] += float64(f)
		}
	}
	for j := range m {
		m[j] /= float64(rows)
	}
	for r := range rows {
		for j, f := range x[r*width : (r+1)*width] {
			d := float64(f) - m[j]
			v[j] += d * d
		}
	}
	mean, std = make([]float32, width), make([]float32, width)
	for j := range m {
		mean[j] = float32(m[j])
		s := float32(math.Sqrt(v[j] / float64(rows)))
		if s == 0 {
			s = 1
		}
		std[j] = s
	}
	return mean, std
}

// Kind returns "csv".
func (d *CSV) Kind() string { return "csv" }

// Task returns Classify.
func (d *CSV) Task() Task { return Classify }

// Len is the number of rows of split s.
func (d *CSV) Len(s Split) int { return len(d.labels[s]) }

// Width is the number of features.
func (d *CSV) Width() int { return d.width }

// Classes is the largest label plus one.
func (d *CSV) Classes() int { return d.classes }

// Tokenizer returns nil: a table has no tokens.
func (d *CSV) Tokenizer() Tokenizer { return nil }

// FeatureStats returns the per-feature mean and standard deviation over
// Train (a constant feature reports std 1). Callers must not modify them.
func (d *CSV) FeatureStats() (mean, std []float32) { return d.mean, d.std }

// Sample writes the features of row i of split s into feats and its label
// into y[0].
func (d *CSV) Sample(s Split, i int, _, y []int32, feats []float32) {
	checkIndex("csv", s, i, d.Len(s))
	copy(feats[:d.width], d.feats[s][i*d.width:(i+1)*d.width])
	y[0] = d.labels[s][i]
}
