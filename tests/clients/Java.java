import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.sqlite.SQLiteConfig;

public class Java {
    public static void main(String[] args) throws SQLException, IOException {
        // Load once, into any connection: every connection opened afterwards is guarded.
        SQLiteConfig config = new SQLiteConfig();
        config.enableLoadExtension(true);
        Connection loader = DriverManager.getConnection("jdbc:sqlite::memory:", config.toProperties());
        loader.createStatement().execute("SELECT load_extension('./libwalguard')");

        Connection conn = DriverManager.getConnection("jdbc:sqlite:app.db");
        Statement st = conn.createStatement();
        ResultSet mode = st.executeQuery("PRAGMA journal_mode=WAL");
        System.out.println(mode.getString(1));
        try {
            st.execute("PRAGMA journal_mode=DELETE"); // the "fallback" that corrupts shared databases
        } catch (SQLException error) {
            // org.sqlite.SQLiteException: [SQLITE_ERROR] SQL error or missing database (walguard: refused ...)
            System.out.println(error.getClass().getName() + ": " + error.getMessage());
        }
        st.execute("INSERT INTO t VALUES (4)");
        System.out.println(st.executeQuery("SELECT count(*) FROM t").getInt(1));
        System.out.println(st.executeQuery("PRAGMA wal_checkpoint(TRUNCATE)").getInt(1));

        // A downgrade the pragma's check never sees: main is another database (:memory: here) and
        // app.db is ATTACHed; the unprefixed pragma reaches app.db only as its header write, refused.
        // The first connection is closed first: with it open, SQLite itself refuses (database is locked).
        conn.close();
        Connection other = DriverManager.getConnection("jdbc:sqlite::memory:");
        Statement ost = other.createStatement();
        ost.execute("ATTACH 'app.db' AS app");
        try {
            System.out.println("execute returned " + ost.execute("PRAGMA journal_mode=DELETE"));
            ost.close(); // finalizes the pragma: SQLite commits then, and the failure surfaces here
            System.out.println("close returned");
        } catch (SQLException error) {
            System.out.println(error.getClass().getName() + ": " + error.getMessage());
        }
        other.close();
        byte[] header = Files.readAllBytes(Path.of("app.db"));
        System.out.println("header bytes 18,19: " + header[18] + "," + header[19]); // 2,2: still WAL
    }
}
