package ags

import (
	"encoding/base64"
	"encoding/hex"
	"testing"
)

// ckSeq returns the bytes from..to inclusive, as RFC 5869's vectors spell them.
func ckSeq(from, to int) []byte {
	var b []byte
	for i := from; i <= to; i++ {
		b = append(b, byte(i))
	}
	return b
}

func ckRepeat(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

// TestHKDFSHA256 checks the SHA-256 test vectors of RFC 5869 appendix A.
func TestHKDFSHA256(t *testing.T) {
	tests := []struct {
		name            string
		ikm, salt, info []byte
		length          int
		want            string
	}{
		{
			name: "A.1 basic", ikm: ckRepeat(0x0b, 22), salt: ckSeq(0x00, 0x0c), info: ckSeq(0xf0, 0xf9), length: 42,
			want: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
		},
		{
			name: "A.2 longer inputs and outputs", ikm: ckSeq(0x00, 0x4f), salt: ckSeq(0x60, 0xaf), info: ckSeq(0xb0, 0xff), length: 82,
			want: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c" +
				"59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71" +
				"cc30c58179ec3e87c14c01d5c1f3434f1d87",
		},
		{
			name: "A.3 zero-length salt and info", ikm: ckRepeat(0x0b, 22), length: 42,
			want: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
		},
		{name: "zero length", ikm: ckRepeat(0x0b, 22), length: 0, want: ""},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			okm, err := hkdfSHA256(tc.ikm, tc.salt, tc.info, tc.length)
			if err != nil {
				t.Fatalf("hkdfSHA256: %v", err)
			}
			if got := hex.EncodeToString(okm); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHKDFSHA256Length(t *testing.T) {
	for _, length := range []int{-1, 255*32 + 1} {
		if _, err := hkdfSHA256([]byte("secret"), nil, nil, length); err == nil {
			t.Errorf("length %d: got no error, want one", length)
		}
	}
	okm, err := hkdfSHA256([]byte("secret"), nil, nil, 255*32)
	if err != nil || len(okm) != 255*32 {
		t.Errorf("length %d: got %d bytes, %v", 255*32, len(okm), err)
	}
}

// TestProcessSessionSecret: one secret for the whole process, long enough
// for newSealer, and random; it is made once, so its warning is logged once.
func TestProcessSessionSecret(t *testing.T) {
	first, _ := processSessionSecret()
	second, made := processSessionSecret()
	if second != first {
		t.Errorf("got %q, want %q: the secret changed within the process", second, first)
	}
	if made {
		t.Error("the second call says it made the secret: the warning would repeat")
	}
	raw, err := base64.RawURLEncoding.DecodeString(first)
	if err != nil || len(raw) != 32 {
		t.Errorf("got %d random bytes (%v), want 32", len(raw), err)
	}
	if _, err := newSealer([]string{first}, ckIssuer, ckClientID); err != nil {
		t.Errorf("newSealer with the generated secret: %v", err)
	}
}
