package parallel

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestEach(t *testing.T) {
	var ran atomic.Int64
	seen := make([]atomic.Bool, 1000)
	err := Each(len(seen), func(i int) error {
		ran.Add(1)
		if seen[i].Swap(true) {
			t.Errorf("step %d ran twice", i)
		}
		if i == 500 {
			return errors.New("step 500")
		}
		return nil
	})
	if err == nil || err.Error() != "step 500" || ran.Load() != 1000 {
		t.Fatalf("Each: %v after %d steps, want step 500's error after 1000", err, ran.Load())
	}
	if err := Each(0, func(int) error { return errors.New("never") }); err != nil {
		t.Fatal(err)
	}
}
