package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ferry-ftp/ferry/auth"
)

// ErrOverQuota is AddUsage's refusal: the change would take the user past
// a limit.
var ErrOverQuota = errors.New("quota exceeded")

// Usage is a user's limits (0: none) and what the user's files take.
type Usage struct {
	QuotaBytes, QuotaFiles int64
	UsedBytes, UsedFiles   int64
	// Counted is false until InitUsage (or AddUsage) has set the usage.
	Counted bool
}

// SetQuota sets name's limits; 0 is no limit (stored as NULL). Running
// nodes read the limits at each change of usage, so it counts at once.
func (s *Store) SetQuota(ctx context.Context, name string, bytes, files int64) error {
	if bytes < 0 || files < 0 {
		return errors.New("a quota cannot be negative (0 is no limit)")
	}
	return s.changeOne(ctx, name, "UPDATE ferry_users SET quota_bytes = nullif($2, 0), quota_files = nullif($3, 0), updated_at = now() WHERE name = $1", name, bytes, files)
}

// Usage reads name's limits and usage.
func (s *Store) Usage(ctx context.Context, name string) (Usage, error) {
	var u Usage
	var usedBytes, usedFiles *int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(quota_bytes, 0), coalesce(quota_files, 0), used_bytes, used_files
		FROM ferry_users WHERE name = $1`, name).Scan(&u.QuotaBytes, &u.QuotaFiles, &usedBytes, &usedFiles)
	if errors.Is(err, pgx.ErrNoRows) {
		return Usage{}, fmt.Errorf("%w: %s", auth.ErrNoSuchUser, name)
	}
	if err != nil {
		return Usage{}, fmt.Errorf("users database: %w", err)
	}
	if usedBytes != nil && usedFiles != nil {
		u.UsedBytes, u.UsedFiles, u.Counted = *usedBytes, *usedFiles, true
	}
	return u, nil
}

// InitUsage sets name's usage from a count of the home, unless it is
// already counted: two nodes counting at a first login keep the first.
func (s *Store) InitUsage(ctx context.Context, name string, bytes, files int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE ferry_users SET used_bytes = $2, used_files = $3
		WHERE name = $1 AND (used_bytes IS NULL OR used_files IS NULL)`, name, bytes, files)
	if err != nil {
		return fmt.Errorf("users database: %w", err)
	}
	return nil
}

// AddUsage changes name's usage by the deltas in one statement. With
// enforce, a positive delta that would pass a limit changes nothing and
// returns ErrOverQuota; the row's lock serialises concurrent changes from
// every node, and each sees the others' result before it checks. Usage
// never goes below zero (files made outside ferry were never counted).
func (s *Store) AddUsage(ctx context.Context, name string, deltaBytes, deltaFiles int64, enforce bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE ferry_users SET
			used_bytes = greatest(coalesce(used_bytes, 0) + $2, 0),
			used_files = greatest(coalesce(used_files, 0) + $3, 0)
		WHERE name = $1 AND (NOT $4
			OR (($2 <= 0 OR quota_bytes IS NULL OR coalesce(used_bytes, 0) + $2 <= quota_bytes)
			AND ($3 <= 0 OR quota_files IS NULL OR coalesce(used_files, 0) + $3 <= quota_files)))`,
		name, deltaBytes, deltaFiles, enforce)
	if err != nil {
		return fmt.Errorf("users database: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.Lookup(ctx, name); err != nil {
		return err
	}
	return fmt.Errorf("user %q: %w", name, ErrOverQuota)
}
