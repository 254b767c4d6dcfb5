package io.callguard.ingress;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;

/** Reading a raw HTTP connection: for what a well-behaved client never does (trickling, holding, stopping short). */
final class RawHttp {

    private RawHttp() {
    }

    /** The response head, up to and including the blank line (or what came before the stream ended). */
    static String readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        int c;
        while ((c = in.read()) != -1) {
            head.append((char) c);
            if (head.length() >= 4 && head.substring(head.length() - 4).equals("\r\n\r\n")) {
                break;
            }
        }
        return head.toString();
    }

    /**
     * True when the server closed the connection within the wait: its stream ends (whatever was still unread, such
     * as an error body, is skipped) or it is reset; false when the wait passes with the connection open.
     */
    static boolean closedWithin(Socket socket, long millis) throws IOException {
        socket.setSoTimeout((int) millis);
        try {
            InputStream in = socket.getInputStream();
            while (in.read() != -1) {
                // what the server said before closing
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }
}
