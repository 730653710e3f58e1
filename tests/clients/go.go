package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/mattn/go-sqlite3"
)

func main() {
	ctx := context.Background()
	// Load once, into any connection: every connection opened afterwards is guarded.
	// Name the entry point: with "" go-sqlite3 asks for sqlite3_extension_init.
	loader, _ := sql.Open("sqlite3", ":memory:")
	raw, _ := loader.Conn(ctx)
	err := raw.Raw(func(c any) error {
		return c.(*sqlite3.SQLiteConn).LoadExtension("./libwalguard", "sqlite3_walguard_init")
	})
	if err != nil {
		panic(err)
	}

	db, _ := sql.Open("sqlite3", "app.db")
	db.SetMaxOpenConns(1)
	var mode string
	db.QueryRow("PRAGMA journal_mode=WAL").Scan(&mode)
	fmt.Println(mode)
	// The "fallback" that corrupts shared databases:
	if _, err := db.Exec("PRAGMA journal_mode=DELETE"); err != nil {
		fmt.Printf("%T: %v\n", err, err) // sqlite3.Error: walguard: refused journal_mode=DELETE on '/path/app.db': ...
	}
	db.Exec("INSERT INTO t VALUES (4)")
	var count, busy int
	db.QueryRow("SELECT count(*) FROM t").Scan(&count)
	fmt.Println(count)
	db.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, new(int), new(int))
	fmt.Println(busy)

	// A downgrade the pragma's check never sees: main is another database (:memory: here) and
	// app.db is ATTACHed; the unprefixed pragma reaches app.db only as its header write, refused.
	// The first connection is closed first: with it open, SQLite itself refuses (database is locked).
	db.Close()
	other, _ := sql.Open("sqlite3", ":memory:")
	other.SetMaxOpenConns(1)
	if _, err := other.Exec("ATTACH 'app.db' AS app"); err != nil {
		panic(err)
	}
	if _, err := other.Exec("PRAGMA journal_mode=DELETE"); err != nil {
		fmt.Printf("%T: %v\n", err, err)
	} else {
		// Exec steps the pragma once (its row) and finalizes it: the commit fails there, unreported
		fmt.Println("no error")
	}
	other.Close()
	header, _ := os.ReadFile("app.db")
	fmt.Printf("header bytes 18,19: %d,%d\n", header[18], header[19]) // 2,2: still WAL
}
