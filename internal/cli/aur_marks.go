package cli

import (
	"context"
	"errors"

	"github.com/pacrepo/pacrepo/internal/repo"
)

// Wired to internal/aur once its client lands.
func (g *Globals) addAURStatus(ctx context.Context, r *repo.Repo, lines []packageStatus, names []string, missing bool) ([]packageStatus, error) {
	return nil, errors.New("AUR status not wired yet")
}

func (g *Globals) markAUR(ctx context.Context, sel *profileSelection, rows []listedPackage) error {
	return errors.New("AUR marks not wired yet")
}
