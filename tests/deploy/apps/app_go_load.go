// The same application, loading walguard through go-sqlite3's own API (SQLiteDriver.Extensions,
// the library named by $WALGUARD_LIB): the way to guard a Go program whose SQLite is compiled in.
package main

import (
	"database/sql"
	"fmt"
	"os"

	"github.com/mattn/go-sqlite3"
)

func main() {
	sql.Register("sqlite3_walguard", &sqlite3.SQLiteDriver{
		Extensions: []string{os.Getenv("WALGUARD_LIB")},
	})
	db, _ := sql.Open("sqlite3_walguard", "app.db")
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
