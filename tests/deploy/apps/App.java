// An application on xerial sqlite-jdbc that knows nothing of walguard: the seed's "fall back to DELETE".
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;

public class App {
    public static void main(String[] args) throws SQLException {
        Connection conn = DriverManager.getConnection("jdbc:sqlite:app.db");
        try {
            System.out.println(conn.createStatement().executeQuery("PRAGMA journal_mode=DELETE").getString(1));
        } catch (SQLException error) {
            System.out.println(error.getMessage());
        }
        System.out.println(conn.createStatement().executeQuery("SELECT count(*) FROM t").getInt(1));
    }
}
