/* placeholder main until fs lands */
int main(void);
int main(void)
{
    return 0;
}
