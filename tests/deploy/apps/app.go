// An application on mattn/go-sqlite3 that knows nothing of walguard: the seed's "fall back to DELETE".
package main

import (
	"database/sql"
	"fmt"

	_ "github.com/mattn/go-sqlite3"
)

func main() {
	db, _ := sql.Open("sqlite3", "app.db")
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode=DELETE").Scan(&mode); err != nil {
		fmt.Println(err)
	} else {
		fmt.Println(mode)
	}
	var n int
	db.QueryRow("SELECT count(*) FROM t").Scan(&n)
	fmt.Println(n)
}
