package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered step of the schema: migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrationLockKey is the advisory lock that serialises migrations: two
// nodes starting at once must not both apply the same step. It is an
// arbitrary constant ("ferry" in ASCII) shared by every ferry binary.
const migrationLockKey int64 = 0x6665727279

// loadMigrations reads the embedded steps in version order.
func loadMigrations(files fs.FS) ([]migration, error) {
	names, err := fs.Glob(files, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var steps []migration
	seen := map[int]string{}
	for _, name := range names {
		base := path.Base(name)
		num, rest, ok := strings.Cut(strings.TrimSuffix(base, ".sql"), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", base)
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version", other, base)
		}
		seen[version] = base
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, err
		}
		steps = append(steps, migration{version: version, name: rest, sql: string(body)})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].version < steps[j].version })
	return steps, nil
}

// Migrate creates or updates the schema to the steps this binary embeds,
// and returns how many it applied. It runs in one transaction under an
// advisory lock: nodes starting at once wait for each other, the first
// applies the missing steps and the others find them done; a failed step
// leaves the schema as it was. A database migrated by a newer ferry
// (versions this one does not know) is left alone: steps only add.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	steps, err := loadMigrations(migrationFiles)
	if err != nil {
		return 0, err
	}
	applied := 0
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS ferry_schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("creating ferry_schema_migrations: %w", err)
		}
		rows, err := tx.Query(ctx, "SELECT version FROM ferry_schema_migrations")
		if err != nil {
			return err
		}
		done, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return err
		}
		have := map[int]bool{}
		for _, v := range done {
			have[int(v)] = true
		}
		for _, step := range steps {
			if have[step.version] {
				continue
			}
			if _, err := tx.Exec(ctx, step.sql); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", step.version, step.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO ferry_schema_migrations (version, name) VALUES ($1, $2)", step.version, step.name); err != nil {
				return err
			}
			applied++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("users database schema: %w", err)
	}
	return applied, nil
}

// SchemaVersion returns the highest migration applied to the database,
// 0 for none.
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var v int32
	err := pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM ferry_schema_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("users database schema: %w", err)
	}
	return int(v), nil
}

var errNoMigrations = errors.New("no migrations embedded")

func init() {
	// A build that lost its migrations would "migrate" to nothing and
	// fail at the first login; fail at once instead.
	steps, err := loadMigrations(migrationFiles)
	if err == nil && len(steps) == 0 {
		err = errNoMigrations
	}
	if err != nil {
		panic("auth/postgres: " + err.Error())
	}
}
