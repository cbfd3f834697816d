-- Live order status: every status an order enters is announced on the channel
-- `order_status` (payload: the order id). PostgreSQL delivers a NOTIFY when the
-- transaction commits, to every connection of this database that listens, so
-- each replica of the orders service hears the changes any replica commits.
CREATE FUNCTION notify_order_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('order_status', NEW.order_id::text);
    RETURN NEW;
END
$$;

CREATE TRIGGER order_status_notify
    AFTER INSERT ON order_status_history
    FOR EACH ROW EXECUTE FUNCTION notify_order_status();
