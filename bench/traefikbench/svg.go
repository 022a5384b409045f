package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// svg draws the sweep: Traefik's CPU µs per request above bare against active
// sessions (log scale), with the one-session figure and the 3x target as lines.
func (sw *sweepResult) svg() string {
	base, _ := sw.base()
	xs := make([]float64, len(sw.points))
	ys := make([]float64, len(sw.points))
	for i, pt := range sw.points {
		xs[i], ys[i] = float64(pt.n), pt.above()
	}
	return plotSVG("ags: Traefik CPU per signed-in request above bare, by active sessions", sw.note,
		"active sessions, each request the next one (log scale)", "Traefik CPU µs per request above bare",
		xs, ys, []hline{{base, "one session"}, {targetSweepRatio * base, fmt.Sprintf("%dx one session (target)", targetSweepRatio)}})
}

// hline is a labelled horizontal reference line.
type hline struct {
	y     float64
	label string
}

// plotSVG is a line plot with a log-scale x axis (decades) and a linear y axis from 0.
func plotSVG(title, subtitle, xLabel, yLabel string, xs, ys []float64, lines []hline) string {
	const w, h = 760.0, 460.0
	const left, right, top, bottom = 80.0, 30.0, 56.0, 60.0
	pw, ph := w-left-right, h-top-bottom

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	d0, d1 := math.Floor(math.Log10(math.Max(lo, 1))), math.Ceil(math.Log10(math.Max(hi, 1)))
	if d1 <= d0 {
		d1 = d0 + 1
	}
	yMax := 0.0
	for _, y := range ys {
		yMax = math.Max(yMax, y)
	}
	for _, l := range lines {
		yMax = math.Max(yMax, l.y)
	}
	step := niceStep(yMax / 5)
	yTop := math.Ceil(yMax*1.05/step) * step
	if yTop <= 0 {
		yTop, step = 1, 0.2
	}
	px := func(x float64) float64 { return left + (math.Log10(math.Max(x, 1))-d0)/(d1-d0)*pw }
	py := func(y float64) float64 { return top + ph - math.Max(y, 0)/yTop*ph }

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="%.0f" y="22" text-anchor="middle" font-size="15">%s</text>`+"\n", w/2, html.EscapeString(title))
	p(`<text x="%.0f" y="40" text-anchor="middle" font-size="11" fill="#555">%s</text>`+"\n", w/2, html.EscapeString(subtitle))
	// grid and ticks
	for d := d0; d <= d1; d++ {
		x := px(math.Pow(10, d))
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, top, x, top+ph)
		p(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, top+ph+18, thousands(math.Pow(10, d)))
		for m := 2.0; m < 10 && d < d1; m++ {
			xm := px(m * math.Pow(10, d))
			p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999"/>`+"\n", xm, top+ph, xm, top+ph+4)
		}
	}
	for y := 0.0; y <= yTop+step/2; y += step {
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, py(y), left+pw, py(y))
		p(`<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, py(y)+4, strconvTrim(y))
	}
	p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	p(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", left+pw/2, h-16, html.EscapeString(xLabel))
	p(`<text transform="translate(20 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+ph/2, html.EscapeString(yLabel))
	for _, l := range lines {
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c60" stroke-dasharray="6 4"/>`+"\n", left, py(l.y), left+pw, py(l.y))
		// at the right, where the curve of a flat cache is not
		p(`<text x="%.1f" y="%.1f" text-anchor="end" fill="#c60">%s (%.0f µs)</text>`+"\n", left+pw-6, py(l.y)-5, html.EscapeString(l.label), l.y)
	}
	// the curve
	var pts []string
	for i := range xs {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[i]), py(ys[i])))
	}
	p(`<polyline points="%s" fill="none" stroke="#1f5fbf" stroke-width="2"/>`+"\n", strings.Join(pts, " "))
	for i := range xs {
		p(`<circle cx="%.1f" cy="%.1f" r="4" fill="#1f5fbf"/>`+"\n", px(xs[i]), py(ys[i]))
		p(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#1f5fbf">%.0f</text>`+"\n", px(xs[i]), py(ys[i])-9, ys[i])
	}
	p("</svg>\n")
	return b.String()
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= v {
			return m * mag
		}
	}
	return 10 * mag
}

// strconvTrim formats an axis value without useless decimals.
func strconvTrim(v float64) string {
	if v == math.Trunc(v) {
		return thousands(v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
