package hedge
