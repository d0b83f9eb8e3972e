"""The contact ledger (API.md §12): calls counted per lender, debtor and Shanghai day."""
