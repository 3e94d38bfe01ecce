-- The standard pre-due routine also runs at noon and at four, so a loan lent
-- after the morning run and due today still gets the due-day reminder its
-- patron asked for (coverage keeps it to one). Only a schedule staff have not
-- changed is moved.
UPDATE kmc_routines
SET schedule = '0 6,12,16 * * *'
WHERE name = 'Pre-due reminders' AND message_type = 'predue' AND schedule = '0 6 * * *';
