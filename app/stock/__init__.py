"""Channel stock: the items each warehouse, dealer and store holds, their age, and days of stock."""
